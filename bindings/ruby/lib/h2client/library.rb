# frozen_string_literal: true

require "ffi"

module H2Client
  # Finds libh2client. In order:
  #
  # 1. +H2CLIENT_LIB+: the full path of the shared library;
  # 2. pkg-config: +libh2client.so.0+ in <tt>pkg-config --variable=libdir h2client</tt>
  #    (+PKG_CONFIG+ names another pkg-config, +PKG_CONFIG_PATH+ works as usual);
  # 3. the system's dynamic loader: +libh2client.so.0+ (ld.so.conf, +LD_LIBRARY_PATH+).
  #
  # Raises LoadError, naming every place it looked, if none of them has the library.
  module LibraryPath
    SONAME = "libh2client.so.0"

    module_function

    # [[path_or_name, where it came from], ...] in the order they are tried.
    def candidates
      env = ENV["H2CLIENT_LIB"]
      return [[env, "H2CLIENT_LIB"]] if env && !env.empty?

      list = []
      if (libdir = pkg_config_libdir)
        [SONAME, "libh2client.so"].each do |name|
          list << [File.join(libdir, name), "pkg-config libdir"]
        end
      end
      list << [SONAME, "system loader"]
      list
    end

    # h2client's libdir according to pkg-config, or nil.
    def pkg_config_libdir
      cmd = ENV["PKG_CONFIG"]
      cmd = "pkg-config" if cmd.nil? || cmd.empty?
      out = IO.popen([cmd, "--variable=libdir", "h2client"], err: File::NULL, &:read)
      return nil unless $?.success?

      dir = out.strip
      dir.empty? ? nil : dir
    rescue SystemCallError
      nil # no pkg-config installed
    end
  end

  # The raw C API: one Ruby method per C function, same names and arguments (see
  # include/h2client.h). Functions that can block are attached with <tt>blocking: true</tt>,
  # so Ruby releases the GVL while they wait and other Ruby threads keep running.
  module Lib
    extend FFI::Library

    errors = []
    LibraryPath.candidates.each do |path, origin|
      begin
        ffi_lib path
        LOADED_FROM = path
        break
      rescue LoadError => e
        errors << "#{path} (#{origin}): #{e.message.lines.first.strip}"
      end
    end
    unless const_defined?(:LOADED_FROM, false)
      raise LoadError, "h2client: cannot load libh2client; set H2CLIENT_LIB to its full path " \
                       "or make it visible to pkg-config (PKG_CONFIG_PATH). Tried:\n  " +
                       errors.join("\n  ")
    end

    typedef :uint32, :h2_result
    typedef :pointer, :h2_client
    typedef :pointer, :h2_config
    typedef :pointer, :h2_request
    typedef :pointer, :h2_response
    typedef :pointer, :h2_call
    typedef :pointer, :h2_queue

    # h2_error_info
    class ErrorInfo < FFI::Struct
      layout :code, :uint32,
             :h2_error, :uint32,
             :processed, :uint8,
             :origin, :uint8,
             :goaway_last_stream_id, :uint32,
             :retries, :uint32,
             :message, [:char, 256]
    end

    # h2_stats
    class Stats < FFI::Struct
      layout :connections_open, :uint32,
             :connections_opening, :uint32,
             :connections_draining, :uint32,
             :peer_max_concurrent_streams_min, :uint32,
             :peer_max_concurrent_streams_max, :uint32,
             :streams_active, :uint64,
             :streams_queued, :uint64,
             :requests_completed, :uint64,
             :requests_failed, :uint64,
             :requests_retried, :uint64,
             :bytes_sent, :uint64,
             :bytes_received, :uint64,
             :connections_opened, :uint64,
             :rtt_us, :uint64,
             :limit_continuation_flood, :uint64,
             :limit_header_list, :uint64,
             :limit_empty_data_flood, :uint64,
             :limit_ack_flood, :uint64,
             :limit_glitch_flood, :uint64,
             :limit_reset_rate, :uint64,
             :limit_informational_flood, :uint64,
             :reserved, [:uint64, 9]
    end

    # h2_response_parts: what Client#get copies out of a response, filled by one call.
    class ResponseParts < FFI::Struct
      layout :struct_size, :size_t,
             :headers, :pointer,
             :headers_len, :size_t,
             :header_count, :size_t,
             :body, :pointer,
             :body_len, :size_t,
             :trailers, :pointer,
             :trailers_len, :size_t,
             :trailer_count, :size_t,
             :effective_url, :pointer,
             :effective_url_len, :size_t,
             :redirect_count, :uint32,
             :status, :uint16,
             :decoded, :bool
    end

    # h2_completion
    class Completion < FFI::Struct
      layout :tag, :uint64,
             :call, :pointer,
             :result, :uint32
    end

    # Blocking functions: the GVL is released while they run.
    BLOCKING = { blocking: true }.freeze

    # --- version, errors
    attach_function :h2_version, [], :string
    attach_function :h2_strerror, [:h2_result], :string
    attach_function :h2_error_name, [:h2_result], :string
    attach_function :h2_last_error_message, %i[pointer size_t], :size_t
    attach_function :h2_last_error, [ErrorInfo.by_ref], :h2_result

    # --- config
    attach_function :h2_config_new, [], :h2_config
    attach_function :h2_config_free, [:h2_config], :void
    %i[connect_timeout_ms request_timeout_ms headers_timeout_ms body_idle_timeout_ms
       idle_timeout_ms keepalive_interval_ms keepalive_timeout_ms settings_timeout_ms
       write_timeout_ms max_connections max_concurrent_streams initial_window_size
       connection_window_size max_frame_size max_header_list_size header_table_size
       max_retries tls_versions max_connections_per_origin follow_redirects
       max_continuation_frames max_empty_data_frames max_pending_acks max_glitches
       max_informational_responses max_resets_per_second].each do |name|
      attach_function :"h2_config_set_#{name}", %i[h2_config uint32], :h2_result
    end
    attach_function :h2_config_set_max_response_body, %i[h2_config uint64], :h2_result
    attach_function :h2_config_set_ca_file, %i[h2_config string], :h2_result
    attach_function :h2_config_set_ca_pem, %i[h2_config pointer size_t], :h2_result
    attach_function :h2_config_set_insecure_skip_verify, %i[h2_config bool], :h2_result
    attach_function :h2_config_set_client_cert_file, %i[h2_config string string], :h2_result
    attach_function :h2_config_set_redirect_https_to_http, %i[h2_config int32], :h2_result
    # Proxies and connection overrides (strings as in curl's --proxy, --noproxy, --resolve,
    # --connect-to, --interface).
    attach_function :h2_config_set_proxy, %i[h2_config string], :h2_result
    attach_function :h2_config_set_no_proxy, %i[h2_config string], :h2_result
    attach_function :h2_config_add_resolve, %i[h2_config string], :h2_result
    attach_function :h2_config_add_connect_to, %i[h2_config string], :h2_result
    attach_function :h2_config_set_local_address, %i[h2_config string], :h2_result
    attach_function :h2_config_set_unix_socket, %i[h2_config string], :h2_result
    # NULL (nil) sends no user-agent.
    attach_function :h2_config_set_user_agent, %i[h2_config string], :h2_result
    attach_function :h2_config_set_accept_encoding, %i[h2_config string], :h2_result
    # h2_config_set_event_callback is deliberately not attached: the callback runs on a
    # library thread and must not block, but a Ruby callback would wait for the GVL there.

    # --- callbacks from library threads (see H2Client::Callbacks for how the binding uses
    # them: one FFI::Function each, created once and never freed, with the userdata a key)
    callback :h2_informational_fn, %i[pointer pointer], :void
    callback :h2_log_fn, %i[pointer uint32 string string], :void
    attach_function :h2_config_set_informational_callback,
                    %i[h2_config h2_informational_fn pointer], :h2_result
    attach_function :h2_request_set_informational_callback,
                    %i[h2_request h2_informational_fn pointer], :h2_result
    # Waits until the previous callback is running on no other thread: that thread may be
    # waiting for the GVL to run Ruby code, so the GVL must be released meanwhile.
    attach_function :h2_set_log_callback, %i[uint32 h2_log_fn pointer], :h2_result, BLOCKING

    # --- client
    attach_function :h2_client_new, %i[string h2_config], :h2_client
    # Waits up to 250 ms for GOAWAY to be written (and for blocked calls to return).
    attach_function :h2_client_free, [:h2_client], :void, BLOCKING
    attach_function :h2_client_do, %i[h2_client h2_request pointer], :h2_result, BLOCKING
    # A request without header fields or body in one call, its response copied into the
    # caller's buffer when it fits (Client#get and the like). The strings are native copies
    # (Client::Scratch#c_string), not Ruby Strings: the call runs without the GVL, while
    # another thread could change (or GC.compact move) a String.
    attach_function :h2_client_fetch_into,
                    %i[h2_client pointer pointer pointer pointer size_t pointer], :h2_result,
                    BLOCKING
    attach_function :h2_client_start, %i[h2_client h2_request pointer], :h2_result
    attach_function :h2_client_submit, %i[h2_client h2_request h2_queue uint64 pointer],
                    :h2_result
    attach_function :h2_client_stats, [:h2_client, Stats.by_ref], :h2_result
    attach_function :h2_client_origin_stats, [:h2_client, :string, Stats.by_ref], :h2_result
    attach_function :h2_client_close_idle_connections, %i[h2_client pointer], :h2_result
    # h2_client_submit_cb is not attached, for the reason given for the event callback.

    # --- request
    attach_function :h2_request_new, %i[string string], :h2_request
    attach_function :h2_request_new_url, %i[string string], :h2_request
    attach_function :h2_request_free, [:h2_request], :void
    attach_function :h2_request_add_header, %i[h2_request string string], :h2_result
    attach_function :h2_request_set_body, %i[h2_request pointer size_t], :h2_result
    attach_function :h2_request_set_timeout_ms, %i[h2_request uint32], :h2_result
    attach_function :h2_request_set_headers_timeout_ms, %i[h2_request uint32], :h2_result
    attach_function :h2_request_set_body_idle_timeout_ms, %i[h2_request uint32], :h2_result
    attach_function :h2_request_set_streaming_body, %i[h2_request bool], :h2_result

    # --- response
    attach_function :h2_response_status, [:h2_response], :uint16
    attach_function :h2_response_header_count, [:h2_response], :size_t
    attach_function :h2_response_header_at, %i[h2_response size_t pointer pointer pointer pointer],
                    :h2_result
    attach_function :h2_response_header, %i[h2_response string], :pointer
    attach_function :h2_response_trailer_count, [:h2_response], :size_t
    attach_function :h2_response_trailer_at, %i[h2_response size_t pointer pointer pointer pointer],
                    :h2_result
    attach_function :h2_response_trailer, %i[h2_response string], :pointer
    # Every field in one call: name\0value\0... (what the binding reads; see Client::Scratch).
    attach_function :h2_response_headers_packed, %i[h2_response pointer pointer pointer],
                    :h2_result
    attach_function :h2_response_trailers_packed, %i[h2_response pointer pointer pointer],
                    :h2_result
    # Status, fields, body, trailers, URL, redirects and decoded in one call (Client#get).
    attach_function :h2_response_get_parts, %i[h2_response pointer], :h2_result
    attach_function :h2_response_body, %i[h2_response pointer], :pointer
    attach_function :h2_response_effective_url, [:h2_response], :string
    attach_function :h2_response_redirect_count, [:h2_response], :uint32
    attach_function :h2_response_decoded, [:h2_response], :bool
    attach_function :h2_response_free, [:h2_response], :void

    # --- calls
    attach_function :h2_call_write, %i[h2_call pointer size_t], :h2_result, BLOCKING
    attach_function :h2_call_add_trailer, %i[h2_call string string], :h2_result
    attach_function :h2_call_finish, [:h2_call], :h2_result
    attach_function :h2_call_wait_headers, [:h2_call], :h2_result, BLOCKING
    attach_function :h2_call_wait, [:h2_call], :h2_result, BLOCKING
    attach_function :h2_call_is_done, [:h2_call], :bool
    attach_function :h2_call_status, [:h2_call], :uint16
    attach_function :h2_call_header_count, [:h2_call], :size_t
    attach_function :h2_call_header_at, %i[h2_call size_t pointer pointer pointer pointer],
                    :h2_result
    attach_function :h2_call_header, %i[h2_call string], :pointer
    attach_function :h2_call_read, %i[h2_call pointer size_t pointer], :h2_result, BLOCKING
    attach_function :h2_call_trailer_count, [:h2_call], :size_t
    attach_function :h2_call_trailer_at, %i[h2_call size_t pointer pointer pointer pointer],
                    :h2_result
    attach_function :h2_call_trailer, %i[h2_call string], :pointer
    attach_function :h2_call_headers_packed, %i[h2_call pointer pointer pointer], :h2_result
    attach_function :h2_call_trailers_packed, %i[h2_call pointer pointer pointer], :h2_result
    attach_function :h2_call_cancel, [:h2_call], :h2_result
    attach_function :h2_call_error, [:h2_call, ErrorInfo.by_ref], :h2_result
    attach_function :h2_call_response, %i[h2_call pointer], :h2_result
    attach_function :h2_call_buffered, [:h2_call], :size_t
    attach_function :h2_call_effective_url, [:h2_call], :string
    attach_function :h2_call_redirect_count, [:h2_call], :uint32
    attach_function :h2_call_decoded, [:h2_call], :bool
    attach_function :h2_call_free, [:h2_call], :void

    # --- completion queues
    attach_function :h2_queue_new, [], :h2_queue
    attach_function :h2_queue_free, [:h2_queue], :void
    attach_function :h2_queue_fd, [:h2_queue], :int32
    attach_function :h2_queue_poll, [:h2_queue, :pointer, :size_t, :int32], :size_t, BLOCKING

    # Constants of h2client.h used by the binding.
    H2_OK = 0
    H2_PROCESSED_NO = 0
    H2_PROCESSED_MAYBE = 1
    H2_PROCESSED_YES = 2
    H2_ORIGIN_LOCAL = 0
    H2_ORIGIN_REMOTE = 1
    H2_ORIGIN_TRANSPORT = 2
    H2_TLS_1_2 = 1
    H2_TLS_1_3 = 2
    H2_LOG_OFF = 0
    H2_LOG_ERROR = 1
    H2_LOG_WARN = 2
    H2_LOG_INFO = 3
    H2_LOG_DEBUG = 4
    H2_LOG_TRACE = 5
  end

  # Path (or loader name) the library was loaded from.
  def self.library_path
    Lib::LOADED_FROM
  end

  # The C library's version, e.g. "0.1.0".
  def self.library_version
    Lib.h2_version
  end
end
