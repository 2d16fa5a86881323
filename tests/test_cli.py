"""The command table: every command names a real package function that takes the config and exactly the
parameters the table declares, so a rule's shell string, the parser and the call cannot drift apart."""

from __future__ import annotations

import inspect

import pytest

from ssiuu import cli


@pytest.mark.parametrize("name", sorted(cli.COMMANDS))
def test_every_command_calls_a_function_that_takes_its_parameters(name):
    command = cli.COMMANDS[name]
    signature = inspect.signature(command.resolve())
    signature.bind({}, **{arg.name: None for arg in command.args})  # raises TypeError on a mismatch
    accepts_more = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    required = {
        n
        for n, p in list(signature.parameters.items())[1:]
        if p.default is p.empty and p.kind is not p.VAR_KEYWORD
    }
    assert required <= {arg.name for arg in command.args} or accepts_more


def test_the_parser_turns_options_into_the_declared_types():
    args = cli.build_parser().parse_args(
        [
            "attack",
            "--benchmark",
            "b",
            "--model",
            "m",
            "--method",
            "GD",
            "--seed",
            "0",
            "--checkpoint",
            "c",
            "--split",
            "s",
            "--unlearn-result",
            "u",
            "--base-result",
            "r",
            "--out",
            "o1",
            "o2",
        ]
    )
    assert (args.seed, args.out) == (0, ["o1", "o2"])
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["attack", "--seed", "first"])
