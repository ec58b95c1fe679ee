"""Run GitHub Actions workflows locally against cargohold, and lint them before they run.

``model`` parses a workflow file (positions kept), ``permissions`` computes a job's token as
GitHub does, ``runner`` runs jobs with real job tokens minted through a ``TokenIssuer``,
``lint`` predicts which pushes the registry will refuse. ``expressions`` evaluates ``${{ }}``.
"""
