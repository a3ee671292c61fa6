/* get URL: fetch one URL over HTTP/2 and print the status, headers and body. */
#include <stdio.h>

#include "h2client.h"

/* Prints the calling thread's last h2client error and returns the exit status. */
static int fail(void) {
    h2_error_info err;
    h2_last_error(&err);
    fprintf(stderr, "get: %s: %s\n", h2_error_name(err.code), err.message);
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: get URL\n");
        return 2;
    }
    /* A client without a base URL serves any origin; the request names its whole URL. */
    h2_client *client = h2_client_new(NULL, NULL);
    if (!client)
        return fail();
    h2_request *req = h2_request_new_url("GET", argv[1]);
    h2_response *resp = NULL;
    if (!req || h2_client_do(client, req, &resp) != H2_OK) {
        int status = fail();
        h2_request_free(req);
        h2_client_free(client);
        h2_global_cleanup();
        return status;
    }

    printf("HTTP/2 %u\n", (unsigned)h2_response_status(resp));
    for (size_t i = 0; i < h2_response_header_count(resp); i++) {
        const char *name, *value;
        h2_response_header_at(resp, i, &name, NULL, &value, NULL);
        printf("%s: %s\n", name, value);
    }
    printf("\n");
    size_t len;
    const uint8_t *body = h2_response_body(resp, &len);
    fwrite(body, 1, len, stdout);

    h2_response_free(resp);
    h2_request_free(req);
    h2_client_free(client);
    /* Optional, last: stop the library's threads (after every object is freed, once). */
    h2_global_cleanup();
    return fflush(stdout) == 0 ? 0 : 1;
}
