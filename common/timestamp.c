#include "common/timestamp.h"

#include <stdbool.h>
#include <string.h>

/* The value of n digits at s, or -1 when one is not a digit. */
static int digits(const char *s, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static bool leap(int year)
{
	return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

const char *us_timestamp_check(const char *s)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (strlen(s) != US_TIMESTAMP_LEN)
		return "must be 24 characters, YYYY-MM-DDTHH:MM:SS.mmmZ";
	if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
	    s[19] != '.' || s[23] != 'Z')
		return "must be YYYY-MM-DDTHH:MM:SS.mmmZ";
	int year = digits(s, 4), month = digits(s + 5, 2), day = digits(s + 8, 2);
	int hour = digits(s + 11, 2), minute = digits(s + 14, 2), second = digits(s + 17, 2);
	if (year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0 ||
	    digits(s + 20, 3) < 0)
		return "must be YYYY-MM-DDTHH:MM:SS.mmmZ with digits";
	if (month < 1 || month > 12 || day < 1 ||
	    day > days[month - 1] + (month == 2 && leap(year)))
		return "is not a date";
	if (hour > 23 || minute > 59 || second > 59)
		return "is not a time of day";
	return NULL;
}
