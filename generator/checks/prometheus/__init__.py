"""The checks of monitoring: the alert rules and their unit tests (rules), and the service scraped by a real
Prometheus that fires its alerts (e2e)."""
