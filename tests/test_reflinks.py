from __future__ import annotations

import random
import textwrap

from digest.render.reflinks import Linked, number, ref, references, tidy
from digest.render.templates import wordwrap


def test_linked_numbers_links_by_first_appearance_across_parts() -> None:
    a = Linked.parse(f"see {ref('https://a.example')} and {ref('https://b.example')}, 100%")
    b = Linked.parse(f"again {ref('https://a.example')} then {ref('https://c.example')}")
    plain = Linked.parse("no links %s here")
    texts, refs = number([a, plain, b])
    assert texts == ["see [1] and [2], 100%", "no links %s here", "again [1] then [3]"]
    assert refs == "[1] https://a.example\n[2] https://b.example\n[3] https://c.example"


def test_linked_numbers_by_position_when_every_link_is_distinct() -> None:
    parts = [Linked.parse(f"{ref(f'u{i}')}{ref(f'v{i}')}.") for i in range(3)]
    texts, refs = number(parts)
    assert texts == ["[1][2].", "[3][4].", "[5][6]."]
    assert refs.splitlines()[-1] == "[6] v2"


def test_fill_puts_items_in_the_slot_and_keeps_link_order() -> None:
    shell = Linked.parse(f"head {ref('h')} <SLOT> tail {ref('t')}")
    items = [Linked.parse(f"- one {ref('1')}"), Linked.parse(f"- two {ref('2')}")]
    texts, refs = number([shell.fill("<SLOT>", items)])
    assert texts == ["head [1] - one [2]\n- two [3] tail [4]"]
    assert refs.split("\n") == ["[1] h", "[2] 1", "[3] 2", "[4] t"]
    assert shell.fill("<NOT THERE>", items) is shell


def test_references_and_tidy() -> None:
    assert references([]) == ""
    assert references(["x"]) == "[1] x"
    assert tidy("a  \nb\t\nc ") == "a\nb\nc"
    assert tidy("clean\ntext") == "clean\ntext"


def test_wordwrap_is_greedy_like_textwrap_without_hyphen_breaks() -> None:
    rng = random.Random(7)
    words = ["a", "bb", "well-known", "word", "longerword", "é", "x" * 64]
    for _ in range(3000):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(0, 40)))
        width = rng.choice([64, 72]) if "x" * 64 in text else rng.choice([10, 11, 64, 72])
        expected = textwrap.wrap(text, width, break_on_hyphens=False)
        assert wordwrap(text, width) == "\n".join(expected), (text, width)


def test_wordwrap_keeps_line_breaks_and_collapses_spaces() -> None:
    assert wordwrap("one  two\n\nthree", 72) == "one two\n\nthree"


def test_wordwrap_splits_only_words_longer_than_a_line_each_on_its_own_lines() -> None:
    assert wordwrap("ab " + "x" * 12 + " cd", 5) == "ab\nxxxxx\nxxxxx\nxx cd"


def test_wordwrap_collapses_every_kind_of_whitespace() -> None:
    assert wordwrap(" lead\tand\xa0no-break\u2028line  end ", 72) == "lead and no-break line end"
    assert wordwrap("x" * 10, 5) == "xxxxx\nxxxxx"
    assert wordwrap("", 72) == "" and wordwrap("a\n\nb", 72) == "a\n\nb"
