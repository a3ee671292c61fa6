// get URL: fetch one URL over HTTP/2 and print the status, headers and body (get.c in C++).
#include <iostream>

#include "h2client.hpp"

int main(int argc, char **argv) {
    if (argc != 2) {
        std::cerr << "usage: get-cpp URL\n";
        return 2;
    }
    h2::GlobalCleanup cleanup; // destroyed last: shuts the library down after the client
    try {
        // A client without a base URL serves any origin; the request names its whole URL.
        h2::Client client;
        h2::Response resp = client.send(h2::Request::url("GET", argv[1]));
        std::cout << "HTTP/2 " << resp.status() << "\n";
        for (auto [name, value] : resp.headers())
            std::cout << name << ": " << value << "\n";
        std::cout << "\n" << resp.body() << std::flush;
        return std::cout ? 0 : 1;
    } catch (const h2::Error &e) {
        std::cerr << "get.cpp: " << e.code_name() << ": " << e.message() << "\n";
        return 1;
    }
}
