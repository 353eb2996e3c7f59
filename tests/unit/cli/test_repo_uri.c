/* --repository as a registry URI: the forms ECR documents give the account, region and name;
 * plain names and namespaces stay names; other hosts are refused. */
#include "cli/repo_uri.h"

#include <string.h>

#include "test.h"

static void check_uri(const char *v, const char *account, const char *region, const char *name)
{
    struct repo_uri u;
    CHECK_EQ_INT(repo_uri_parse(v, &u), REPO_URI_REGISTRY);
    CHECK(u.account_len == strlen(account) && !memcmp(u.account, account, u.account_len));
    CHECK(u.region_len == strlen(region) && !memcmp(u.region, region, u.region_len));
    CHECK(u.name_len == strlen(name) && !memcmp(u.name, name, u.name_len));
}

int main(void)
{
    check_uri("123456789012.dkr.ecr.us-west-2.amazonaws.com/app", "123456789012", "us-west-2",
              "app");
    check_uri("123456789012.dkr.ecr.eu-central-1.amazonaws.com/team/app", "123456789012",
              "eu-central-1", "team/app");
    check_uri("123456789012.dkr.ecr-fips.us-east-1.amazonaws.com/app", "123456789012", "us-east-1",
              "app");
    check_uri("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/app", "123456789012", "cn-north-1",
              "app");
    check_uri("123456789012.dkr-ecr.us-east-1.on.aws/app", "123456789012", "us-east-1", "app");
    struct repo_uri u;
    CHECK_EQ_INT(repo_uri_parse("app", &u), REPO_URI_NAME);
    CHECK_EQ_INT(repo_uri_parse("team/app", &u), REPO_URI_NAME);
    CHECK_EQ_INT(repo_uri_parse("docker.io/library/app", &u), REPO_URI_OTHER);
    CHECK_EQ_INT(repo_uri_parse("localhost:5000/app", &u), REPO_URI_OTHER);
    CHECK_EQ_INT(repo_uri_parse("12345678901.dkr.ecr.us-west-2.amazonaws.com/app", &u),
                 REPO_URI_OTHER);
    CHECK_EQ_INT(repo_uri_parse("123456789012.dkr.ecr.us-west-2.amazonaws.com/", &u),
                 REPO_URI_OTHER);
    CHECK_EQ_INT(repo_uri_parse("123456789012.dkr.ecr.US_WEST.amazonaws.com/app", &u),
                 REPO_URI_OTHER);
    CHECK_EQ_INT(repo_uri_parse("123456789012.s3.us-west-2.amazonaws.com/app", &u), REPO_URI_OTHER);
    return test_finish("test_repo_uri");
}
