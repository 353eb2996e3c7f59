/* `ecrup upload-layer`: upload layer files to an ECR repository through libecrup. */
#ifndef ECRUP_CLI_UPLOAD_LAYER_H
#define ECRUP_CLI_UPLOAD_LAYER_H

/* argv[0] is "upload-layer". Returns the process exit status (CLI_EXIT_*). Main thread only:
 * installs a SIGINT handler for the duration of the upload. */
int upload_layer_main(int argc, char **argv);

#endif
