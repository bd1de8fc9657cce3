"""arledger.adapters.documents: letters to customers as HTML and PDF files (issue 15.4).

``render`` fills the Jinja2 templates (shipped in ``templates/``, replaceable one by one from a
company's own folder) with a ``Letter``'s figures and prints the HTML to PDF with WeasyPrint.
"""
