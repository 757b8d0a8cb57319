import subprocess
import sys

from click.testing import CliRunner

from mutt_app.cli import COMMAND_MODULES, cli


def test_every_command_is_found_in_the_module_the_table_names_and_no_command_is_missing():
    import importlib
    import pkgutil

    import mutt_app.cli as package

    declared = {}
    for info in pkgutil.iter_modules(package.__path__):
        if info.name == "__main__":  # runs `mutt` when imported
            continue
        module = importlib.import_module(f"mutt_app.cli.{info.name}")
        for command in getattr(module, "COMMANDS", []):
            declared[command.name] = info.name
    assert declared == COMMAND_MODULES
    for name in COMMAND_MODULES:
        assert cli.get_command(None, name).name == name


def test_help_lists_every_command():
    listed = CliRunner().invoke(cli, ["--help"]).output
    assert all(f"  {name} " in listed or f"  {name}\n" in listed for name in COMMAND_MODULES), listed


def test_mutt_listen_does_not_import_what_the_other_commands_need():
    code = ("import sys; from mutt_app.cli import cli; cli.get_command(None, 'listen'); "
            "print(' '.join(sorted(m for m in ('alembic', 'argon2', 'flask', 'granian') if m in sys.modules)))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == ""
