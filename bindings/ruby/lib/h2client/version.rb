# frozen_string_literal: true

module H2Client
  # Version of this Ruby binding (the C library's is H2Client.library_version).
  VERSION = "0.1.0"
end
