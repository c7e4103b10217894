"""The ``activecalls`` command line, split by job: parsing, configuration, output, commands."""
