"""arledger.adapters.report: the portfolio report as one self-contained HTML file.

``model`` gathers the figures from the Ledger's answers at one cut of the log (``Ledger.report``),
``charts`` draws them as inline SVG (matplotlib), ``html`` renders the Jinja2 template in
``templates/`` (``PortfolioReport.html()``), ``browser`` opens a file in headless Chromium. Nothing
is imported here: matplotlib and Jinja2 load only when a report is rendered, so that
``import arledger`` and every other command stay as fast as before. The letters and statements
as documents are elsewhere (``adapters/documents``).
"""
