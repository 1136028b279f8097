"""The pure planning layer: names, specs and Helm values as plain data.

Nothing here creates resources; components turn these values into resources
and tests check them directly and against ../shared/reference. Run
``python -m components.plan --stack <name>`` for the offline plan.
"""
