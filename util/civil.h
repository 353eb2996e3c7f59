/* Calendar arithmetic for the timestamps AWS sends (X-Amz-Date, HTTP Date, ISO 8601
 * expirations): pure, independent of TZ and locale. */
#ifndef ECRUP_UTIL_CIVIL_H
#define ECRUP_UTIL_CIVIL_H

#include <stdbool.h>
#include <time.h>

/* The `n` ASCII digits at `s` as a number; false when any of them is not a digit. */
bool civil_digits(const char *s, int n, int *out);

/* A UTC calendar time as Unix seconds. False when a field is out of range: month 1-12, the
 * day within that month (leap years included), hour 0-23, minute 0-59, second 0-60. `out`
 * may be NULL (validation only). */
bool civil_to_unix(int year, int month, int day, int hour, int minute, int second, time_t *out);

#endif
