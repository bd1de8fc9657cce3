"""arledger.adapters.report: the portfolio report as one self-contained HTML file.

``model`` gathers the figures from the Ledger's answers at one cut of the log, ``charts``
draws them as inline SVG (matplotlib), ``html`` renders the Jinja2 template in ``templates/``.
The letters and statements of account as documents are elsewhere (``adapters/documents``).
"""

from arledger.adapters.report.html import report_html as report_html
from arledger.adapters.report.model import PortfolioReport as PortfolioReport
from arledger.adapters.report.model import portfolio_report as portfolio_report

__all__ = ["PortfolioReport", "portfolio_report", "report_html"]
