"""The MJML 4 tags and attributes digest's templates may use, and where each tag may sit.

mjml-python (MRML) does not validate: an unknown tag or a misspelt attribute passes silently.
This table is what ``digest templates check`` validates the rendered MJML tree against.
"""

from __future__ import annotations

_PADDING = ("padding", "padding-top", "padding-right", "padding-bottom", "padding-left")
_BORDERS = ("border", "border-top", "border-right", "border-bottom", "border-left")
_FONT = (
    "color", "font-family", "font-size", "font-style", "font-weight", "line-height",
    "letter-spacing", "text-decoration", "text-transform",
)  # fmt: skip
_BACKGROUND = (
    "background-color", "background-url", "background-repeat", "background-size",
    "background-position", "background-position-x", "background-position-y",
)  # fmt: skip
_SECTION = (*_BACKGROUND, *_BORDERS, *_PADDING, "border-radius", "direction", "full-width",
            "text-align")  # fmt: skip

ATTRIBUTES: dict[str, frozenset[str]] = {
    name: frozenset(attrs)
    for name, attrs in {
        "mjml": ("lang", "dir", "owa"),
        "mj-head": (),
        "mj-title": (),
        "mj-preview": (),
        "mj-attributes": (),
        "mj-breakpoint": ("width",),
        "mj-font": ("name", "href"),
        "mj-style": ("inline",),
        "mj-raw": ("position",),
        "mj-body": ("width", "background-color"),
        "mj-wrapper": _SECTION,
        "mj-section": _SECTION,
        "mj-group": ("width", "vertical-align", "background-color", "direction"),
        "mj-column": (
            *_BORDERS, *_PADDING, "background-color", "inner-background-color", "border-radius",
            "inner-border", "inner-border-radius", "width", "vertical-align", "direction",
        ),
        "mj-text": (*_FONT, *_PADDING, "align", "container-background-color", "height"),
        "mj-button": (
            *_FONT, *_PADDING, *_BORDERS, "align", "background-color", "border-radius",
            "container-background-color", "height", "href", "inner-padding", "name", "rel",
            "target", "text-align", "title", "vertical-align", "width",
        ),
        "mj-image": (
            *_BORDERS, *_PADDING, "align", "alt", "border-radius", "container-background-color",
            "fluid-on-mobile", "height", "href", "name", "rel", "sizes", "src", "srcset",
            "target", "title", "usemap", "width",
        ),
        "mj-divider": (
            *_PADDING, "align", "border-color", "border-style", "border-width",
            "container-background-color", "width",
        ),
        "mj-spacer": (*_PADDING, "container-background-color", "height"),
        "mj-table": (
            *_FONT, *_PADDING, "align", "border", "cellpadding", "cellspacing",
            "container-background-color", "role", "table-layout", "width",
        ),
    }.items()
}  # fmt: skip
"""Allowed attributes per tag (``css-class`` and ``mj-class`` are allowed on every body tag)."""

HEAD_TAGS = frozenset({"mj-title", "mj-preview", "mj-attributes", "mj-breakpoint", "mj-font",
                       "mj-style", "mj-raw"})  # fmt: skip
CONTENT_TAGS = frozenset({"mj-text", "mj-button", "mj-image", "mj-divider", "mj-spacer",
                          "mj-table", "mj-raw"})  # fmt: skip
PARENTS: dict[str, frozenset[str]] = {
    "mj-head": frozenset({"mjml"}),
    "mj-body": frozenset({"mjml"}),
    **{tag: frozenset({"mj-head"}) for tag in HEAD_TAGS - {"mj-raw"}},
    "mj-wrapper": frozenset({"mj-body"}),
    "mj-section": frozenset({"mj-body", "mj-wrapper"}),
    "mj-group": frozenset({"mj-section"}),
    "mj-column": frozenset({"mj-section", "mj-group"}),
    **{tag: frozenset({"mj-column"}) for tag in CONTENT_TAGS - {"mj-raw"}},
    "mj-raw": frozenset({"mj-head", "mj-body", "mj-wrapper", "mj-section", "mj-column"}),
}
"""Where each tag may appear (inside ``mj-attributes`` any body tag may set defaults)."""

ENDING_TAGS = frozenset({"mj-text", "mj-button", "mj-table", "mj-raw", "mj-style", "mj-title",
                         "mj-preview"})  # fmt: skip
"""Tags whose content is raw HTML or text, not MJML."""

LENGTH_ATTRIBUTES = frozenset({*_PADDING, "inner-padding", "width", "height", "border-radius",
                               "border-width", "font-size", "letter-spacing", *_BORDERS,
                               "inner-border-radius"})  # fmt: skip
"""Attributes whose zero must carry a unit (``0px``): MRML sizes Outlook tables wrong otherwise."""

GLOBAL_ATTRIBUTES = frozenset({"css-class", "mj-class"})
MIN_FONT_PX = 14
