/* `ecrup serve`: the CLI front of the local ECR endpoint. */
#ifndef ECRUP_SERVER_SERVE_CLI_H
#define ECRUP_SERVER_SERVE_CLI_H

/* argv[0] is "serve". Returns the process exit status; runs until SIGINT or SIGTERM. */
int server_cli_main(int argc, char **argv);

#endif
