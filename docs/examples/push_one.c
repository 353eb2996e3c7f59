/* Push one layer file to an ECR repository: push_one REPOSITORY FILE */
#include <ecrup.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc != 3 || ecrup_global_init() != ECRUP_OK)
        return 2;
    struct ecrup_options options;
    ecrup_options_init(&options); /* region, endpoint, credentials: as the AWS SDKs find them */
    struct ecrup_engine *engine;
    struct ecrup_error error;
    if (ecrup_engine_new(&options, &engine, &error) != ECRUP_OK) {
        fprintf(stderr, "%s\n", error.message);
        return 1;
    }
    struct ecrup_layer layer = {.path = argv[2], .repository = argv[1]};
    ecrup_engine_add_layer(engine, &layer, NULL);
    ecrup_status status = ecrup_engine_run(engine);
    const struct ecrup_result *r = ecrup_engine_result(engine, 0);
    if (r->outcome == ECRUP_OUTCOME_FAILED)
        printf("%s: failed: %s\n", r->path, r->message ? r->message : ecrup_strerror(r->status));
    else
        printf("%s: %s %s\n", r->path, r->outcome == ECRUP_OUTCOME_EXISTS ? "exists" : "uploaded",
               r->digest);
    ecrup_engine_free(engine);
    ecrup_global_cleanup();
    return status == ECRUP_OK ? 0 : 1;
}
