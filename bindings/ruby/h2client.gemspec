# frozen_string_literal: true

require_relative "lib/h2client/version"

Gem::Specification.new do |spec|
  spec.name = "h2client"
  spec.version = H2Client::VERSION
  spec.summary = "Ruby binding of h2client, an HTTP/2 client library (Rust, C ABI)"
  spec.description = <<~DESC
    HTTP/2 over TLS and cleartext (prior knowledge) through libh2client's C API, with the
    ffi gem: one client for any number of origins (with or without a base URL) shared by
    any number of threads (the GVL is released while a request waits), redirects, proxies,
    curl-style --resolve/--connect-to, Unix sockets, query:, json: and form: helpers,
    whole or streamed response bodies, streamed uploads, 103 Early Hints, the library's
    logs to a Logger, a Faraday adapter, an exception class per error code (Timeout::Error,
    SocketError and IOError where they are one) with what the server may have processed,
    and fork detection. Needs libh2client.so.0 installed (found via H2CLIENT_LIB, pkg-config, or
    the system loader).
  DESC
  spec.license = "MIT OR Apache-2.0"
  spec.authors = ["h2client developers"]
  spec.required_ruby_version = ">= 3.0"
  spec.files = Dir["lib/**/*.rb", "examples/*.rb", "README.md"]
  spec.require_paths = ["lib"]
  spec.requirements << "libh2client.so.0 (make install in the h2client repository)"
  spec.add_runtime_dependency "ffi", ">= 1.15"
  spec.add_development_dependency "minitest", ">= 5.15"
  # lib/h2client/faraday.rb (the adapter is loaded only by require "h2client/faraday").
  spec.add_development_dependency "faraday", ">= 1.0"
end
