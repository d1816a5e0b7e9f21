"""The errors gosvc reports to its users: each one a sentence and an exit status."""


class GosvcError(Exception):
    """A failure the user can act on; its text is shown as is, without a traceback."""

    exit_code = 1


class InvalidInputError(GosvcError):
    """Bad input: an answer, an argument or a file the user gave."""

    exit_code = 2


class InvalidAnswerError(InvalidInputError):
    """An answer that breaks a question's rule."""

    def __init__(self, question: str, reason: str) -> None:
        super().__init__(f"invalid answer for {question}: {reason}")
        self.question = question
        self.reason = reason


class TemplateSourceError(InvalidInputError):
    """The template to render from cannot be found or read."""


class ToolMissingError(GosvcError):
    """A tool a command needs is not installed."""

    exit_code = 2
