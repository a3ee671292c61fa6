# frozen_string_literal: true

# Ruby binding of h2client, an HTTP/2 client library (Rust, C ABI), through the ffi gem.
#
#   require "h2client"
#   client = H2Client::Client.new("https://example.com")
#   res = client.get("/")
#   puts res.status, res.headers["content-type"], res.body
#
# The shared library is found through H2CLIENT_LIB (full path), else pkg-config's libdir
# for h2client, else the system loader (libh2client.so.0); see H2Client::LibraryPath.
module H2Client
end

require_relative "h2client/version"
require_relative "h2client/library"
require_relative "h2client/errors"
require_relative "h2client/response"
require_relative "h2client/client"
require_relative "h2client/callbacks"
