/* A consumer of the installed libecrup: compiles as C and as C++. */
#include <ecrup.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    struct ecrup_options o;
    ecrup_options_init(&o);
    o.region = "eu-west-1";
    o.access_key_id = "AKIDEXAMPLE";
    o.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    struct ecrup_engine *e = NULL;
    struct ecrup_error err;
    if (ecrup_engine_new(&o, &e, &err) != ECRUP_OK)
        return 1;
    ecrup_engine_free(e);
    if (strcmp(ecrup_strerror(ECRUP_E_THROTTLED), "request throttled by the service") != 0)
        return 1;
    printf("ecrup %s consumer ok\n", ecrup_version());
    return 0;
}
