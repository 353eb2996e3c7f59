// The C consumer, compiled as C++: the header must work for both.
#include "consumer.c"
