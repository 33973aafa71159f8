"""Report outputs: tables (CSV, XLSX), the bulletin text, maps, charts and the HTML report."""
