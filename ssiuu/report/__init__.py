"""The report: tables, figures and claims from the result files (pandas + matplotlib only; never imports torch).

Organized by what it produces, each kind with one registry (:class:`ssiuu.report.registry.Output` entries) that
``workflow/rules/report.smk`` builds its rules from:

* :mod:`ssiuu.report.tables` — ``TABLES``: Tables 1-2, their companions and the attack calibration table;
* :mod:`ssiuu.report.figures` — ``FIGURES``: Figures 2-7;
* :mod:`ssiuu.report.claims` — ``CLAIMS``: the paper's three claims (``claims.md``) and README.md's results
  block (:mod:`ssiuu.report.claims.readme`).

What they share: reading the result files (:mod:`~ssiuu.report.results`, :mod:`~ssiuu.report.analysis_inputs`),
the cells (:mod:`~ssiuu.report.attack_cells`: one attack cell; :mod:`~ssiuu.report.aggregate`: a row's cells;
:mod:`~ssiuu.report.table_data`: the rows of Tables 1-2; :mod:`~ssiuu.report.comparisons`: paired differences
between rows), the statistics (:mod:`~ssiuu.report.inference`, :mod:`~ssiuu.report.stats`), the attack
calibration's rule (:mod:`~ssiuu.report.calibration`), the paper's published values
(:mod:`~ssiuu.report.paper_values`) and the settings (:mod:`~ssiuu.report.options`). docs/architecture.md has
the recipes for adding a table, a figure or a claim.
"""
