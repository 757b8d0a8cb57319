import click
from click.testing import CliRunner

from mutt_app.cli import common
from mutt_app.errors import NotFound


def test_a_mutt_error_from_any_command_is_one_line_and_exit_status_1():
    @click.group(cls=common.Group)
    def group() -> None:
        pass

    @group.group("nested")
    def nested() -> None:
        pass

    @nested.command("fail")
    def fail() -> None:
        raise NotFound("no dead letter 7")

    result = CliRunner().invoke(group, ["nested", "fail"])
    assert result.exit_code == 1 and result.output == "Error: no dead letter 7\n"


def test_any_other_error_is_left_to_the_caller():
    @click.group(cls=common.Group)
    def group() -> None:
        pass

    @group.command("fail")
    def fail() -> None:
        raise KeyError("a bug")

    result = CliRunner().invoke(group, ["fail"])
    assert isinstance(result.exception, KeyError)
