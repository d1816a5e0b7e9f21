"""What every command runs on: gosvc's errors and their exit statuses, the signals that end a command, the
processes and servers it starts, git, the crash log, and the user's cache folder. It imports nothing else of
gosvc's: every other package may use it."""
