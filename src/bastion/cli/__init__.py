"""The command line: one thin module per subcommand, wired together in :mod:`bastion.cli.app`."""
