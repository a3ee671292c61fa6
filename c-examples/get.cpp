// get URL: fetch one URL over HTTP/2 and print the status, headers and body (get.c in C++).
#include <iostream>
#include <string_view>

#include "h2client.hpp"

int main(int argc, char **argv) {
    if (argc != 2) {
        std::cerr << "usage: get-cpp URL\n";
        return 2;
    }
    // The client takes "http://host:port" (any path is ignored); the request names the path.
    std::string_view url = argv[1];
    size_t authority = url.find("://");
    size_t slash = authority == url.npos ? url.npos : url.find('/', authority + 3);
    std::string_view path = slash == url.npos ? "/" : url.substr(slash);
    h2::GlobalCleanup cleanup; // destroyed last: shuts the library down after the client
    try {
        h2::Client client(url);
        h2::Response resp = client.get(path);
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
