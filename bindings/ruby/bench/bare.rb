# frozen_string_literal: true

# The floor of an FFI binding, shared by overhead.rb and loop.rb: one GET through the attached
# functions (h2_request_new + h2_client_do + h2_response_free), nothing copied out.
def bare_get(client, path)
  lib = H2Client::Lib
  raw = client.instance_variable_get(:@ptr)
  out = FFI::MemoryPointer.new(:pointer)
  lambda do
    req = lib.h2_request_new("GET", path)
    rc = lib.h2_client_do(raw, req, out)
    raise H2Client::Error.last(rc) unless rc.zero?

    lib.h2_response_free(out.get_pointer(0))
    lib.h2_request_free(req)
  end
end
