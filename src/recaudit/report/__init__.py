"""Report renderers: one module per output format (json, excel, html)."""
