/* The one HTML escaper: text made safe for HTML content and for quoted attribute values
 * (the gateway's pages, notificationd's HTML emails). */
#ifndef US_HTML_H
#define US_HTML_H

#include "common/buf.h"

/* Appends s to out with & < > " ' written as entities. */
void us_html_escape(us_buf *out, const char *s);

#endif
