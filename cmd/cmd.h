/*
 * The subcommands of the dunerun command line, one file each.
 */
#ifndef DUNERUN_CMD_H
#define DUNERUN_CMD_H

/* Each takes the arguments after its name and returns the exit status. */
int cmd_exec(int argc, char **argv);
int cmd_build(int argc, char **argv);
int cmd_inspect(int argc, char **argv);

/* Prints "usage: dunerun SYNOPSIS (see dunerun --help)"; returns 2. */
int usage_error(const char *synopsis);

#endif
