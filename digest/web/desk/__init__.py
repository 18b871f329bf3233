"""The editors' desk: preview, adjust and approve each list's coming issue in the browser."""
