"""Command line: thin subcommands that parse arguments, call the library and render results."""
