"""Keeping generated repositories current: the update of one repository over its team's edits, the journal
that makes an interrupted update recoverable, and the fleet of repositories under a folder. It imports runtime,
tools, project and template."""
