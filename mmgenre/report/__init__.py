"""Reports: a self-contained HTML page, PNG figures and a Markdown summary for one run or a comparison."""
