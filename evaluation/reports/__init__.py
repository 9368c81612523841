"""Reports per property company and month: HTML (jinja2), PDF (fpdf2) and CSV."""
