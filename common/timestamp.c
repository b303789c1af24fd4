#include "common/timestamp.h"

#include <stdbool.h>
#include <string.h>
#include <time.h>

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

/* v's last n decimal digits at out. */
static void put_digits(char *out, int v, int n)
{
	for (int i = n - 1; i >= 0; i--, v /= 10)
		out[i] = (char)('0' + v % 10);
}

void us_timestamp_format(int64_t micros, char out[US_TIMESTAMP_LEN + 1])
{
	/* Floor division: a time before 1970 keeps its milliseconds counted forward. */
	int64_t seconds = micros / 1000000, rest = micros % 1000000;
	if (rest < 0) {
		seconds -= 1;
		rest += 1000000;
	}
	time_t t = (time_t)seconds;
	struct tm tm;
	gmtime_r(&t, &tm);
	memcpy(out, "0000-00-00T00:00:00.000Z", US_TIMESTAMP_LEN + 1);
	put_digits(out, tm.tm_year + 1900, 4);
	put_digits(out + 5, tm.tm_mon + 1, 2);
	put_digits(out + 8, tm.tm_mday, 2);
	put_digits(out + 11, tm.tm_hour, 2);
	put_digits(out + 14, tm.tm_min, 2);
	put_digits(out + 17, tm.tm_sec, 2);
	put_digits(out + 20, (int)(rest / 1000), 3);
}
