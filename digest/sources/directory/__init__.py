"""The ``directory`` source: a folder of post files (plain-text blog pages and Markdown)."""
