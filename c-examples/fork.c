/* fork URL: the library across fork(), as a pre-forking server (Ruby, Python, PHP) uses it.
 *
 * The parent makes a request (the runtime and a connection exist), then forks twice:
 *   - child 1 uses the parent's client: H2_E_FORKED at once, and freeing it is safe; a new
 *     client made in the child works;
 *   - child 2 frees the parent's client without using it, makes a new one and fetches.
 * Each child then shuts its own runtime down with h2_global_cleanup (the parent's threads do
 * not exist there and are not touched). Meanwhile the parent keeps using its client, checks
 * both children's exit status, and finally shuts its runtime down too.
 * Prints one line per step; exits 0 if every step went as expected. */
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "h2client.h"

/* GET path on client; returns the h2_result and the status in *status. */
static h2_result get(h2_client *client, const char *path, uint16_t *status) {
    h2_request *req = h2_request_new("GET", path);
    if (!req)
        return H2_E_INVALID_ARGUMENT;
    h2_response *resp = NULL;
    h2_result rc = h2_client_do(client, req, &resp);
    if (rc == H2_OK) {
        *status = h2_response_status(resp);
        h2_response_free(resp);
    }
    h2_request_free(req);
    return rc;
}

/* Reports one step; returns 1 if it failed. */
static int step(const char *who, const char *what, int ok) {
    h2_error_info err;
    if (ok) {
        printf("%s: %s: ok\n", who, what);
        return 0;
    }
    h2_last_error(&err);
    printf("%s: %s: FAILED (%s: %s)\n", who, what, h2_error_name(err.code), err.message);
    return 1;
}

/* A fresh client in the child: must work like in any new process. */
static int fresh_client(const char *who, const char *url) {
    int failed = 0;
    h2_client *c = h2_client_new(url, NULL);
    failed += step(who, "new client", c != NULL);
    if (c) {
        for (int i = 0; i < 3; i++) {
            uint16_t status = 0;
            failed += step(who, "GET / with the new client",
                           get(c, "/", &status) == H2_OK && status == 200);
        }
        h2_client_free(c);
    }
    return failed;
}

static int wait_child(pid_t pid, const char *name) {
    int ws = 0;
    if (waitpid(pid, &ws, 0) != pid) {
        perror("waitpid");
        return 1;
    }
    int ok = WIFEXITED(ws) && WEXITSTATUS(ws) == 0;
    printf("parent: %s (pid %d) exited %s\n", name, (int)pid, ok ? "cleanly" : "with a failure");
    return ok ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: fork URL\n");
        return 2;
    }
    const char *url = argv[1];
    int failed = 0;
    uint16_t status = 0;

    h2_client *client = h2_client_new(url, NULL);
    if (!client)
        return step("parent", "new client", 0);
    failed += step("parent", "GET / before fork", get(client, "/", &status) == H2_OK && status == 200);
    fflush(stdout);

    pid_t child1 = fork();
    if (child1 < 0) {
        perror("fork");
        return 1;
    }
    if (child1 == 0) {
        h2_result rc = get(client, "/", &status);
        failed += step("child 1", "GET with the parent's client fails with H2_E_FORKED",
                       rc == H2_E_FORKED);
        h2_client_free(client); /* only releases memory in the child */
        failed += fresh_client("child 1", url);
        failed += step("child 1", "h2_global_cleanup", h2_global_cleanup() == H2_OK);
        fflush(stdout);
        _exit(failed ? 1 : 0);
    }

    pid_t child2 = fork();
    if (child2 < 0) {
        perror("fork");
        return 1;
    }
    if (child2 == 0) {
        /* What a pre-forking server does first: drop the handles inherited from the parent
         * (their connections are the parent's; this only releases memory). */
        h2_client_free(client);
        failed += fresh_client("child 2", url);
        failed += step("child 2", "h2_global_cleanup", h2_global_cleanup() == H2_OK);
        fflush(stdout);
        _exit(failed ? 1 : 0);
    }

    /* The parent is unaffected, while the children run and after. */
    for (int i = 0; i < 5; i++)
        failed += step("parent", "GET / after fork", get(client, "/", &status) == H2_OK && status == 200);
    failed += wait_child(child1, "child 1");
    failed += wait_child(child2, "child 2");
    failed += step("parent", "GET / after the children exited",
                   get(client, "/", &status) == H2_OK && status == 200);
    h2_client_free(client);
    failed += step("parent", "h2_global_cleanup", h2_global_cleanup() == H2_OK);
    printf("fork: %s\n", failed ? "FAILED" : "all steps passed");
    return failed ? 1 : 0;
}
