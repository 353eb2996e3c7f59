/* `ecrup push`: push an image (OCI layout directory or image tarball) to an ECR repository. */
#ifndef ECRUP_CLI_PUSH_H
#define ECRUP_CLI_PUSH_H

/* argv[0] is "push". Returns the process exit status (CLI_EXIT_*). Main thread only. */
int push_main(int argc, char **argv);

#endif
