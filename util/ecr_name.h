/* ECR's rule for repository names, in one place for the CLI and `ecrup serve`.
 *
 * The rule is the RepositoryName shape of ECR's service model (botocore's
 * data/ecr/2015-09-21/service-2.json): 2 to 256 characters matching
 *   [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*
 * that is, '/'-separated components of lowercase letters and digits, joined inside a component
 * by one '.', one '_', two '_' or any run of '-'. tests/unit/util/ecr_name_vs_botocore.py holds
 * this against the pattern read from the installed model. */
#ifndef ECRUP_UTIL_ECR_NAME_H
#define ECRUP_UTIL_ECR_NAME_H

#include <stdbool.h>

/* The shortest and longest names ECR takes. */
#define ECR_REPOSITORY_NAME_MIN 2
#define ECR_REPOSITORY_NAME_MAX 256

/* The rule in words, for error messages that should tell the user what a name may be. */
#define ECR_REPOSITORY_NAME_RULE                                                                   \
    "2 to 256 characters: lowercase letters and digits, in components separated by '/', "          \
    "joined inside a component by '.', '_', '__' or a run of '-', e.g. team/app"

/* True when `name` (NUL-terminated, not NULL) is a repository name ECR accepts. */
bool ecr_repository_name_valid(const char *name);

#endif
