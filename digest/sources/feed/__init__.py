"""The ``feed`` source: fetching, parsing and cleaning RSS, Atom and JSON Feed."""
