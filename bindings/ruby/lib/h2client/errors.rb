# frozen_string_literal: true

require "socket"
require "timeout"

module H2Client
  # Included by every exception the library raises, one class per +H2_E_*+ code (see CODES),
  # so that <tt>rescue H2Client::Error</tt> catches them all. A module, not a base class, so
  # that each class can also descend from the Ruby exception it is a case of, and be
  # rescued the way Net::HTTP's errors are:
  #
  # * TimeoutError < Timeout::Error (as Net::OpenTimeout and Net::ReadTimeout are);
  # * ConnectError < SocketError (no connection could be opened: name not found, refused,
  #   unreachable; Net::HTTP raises SocketError or an Errno::E* there, but the C library
  #   reports no errno, so ConnectError is no SystemCallError);
  # * ConnectionError < IOError (the open connection failed: reset, closed by the peer, a
  #   write error; Net::HTTP raises EOFError, an IOError, or Errno::ECONNRESET there);
  # * every other class < StandardError.
  #
  # Each carries the fields of the C library's +h2_error_info+:
  #
  #   rescue H2Client::StreamResetError => e
  #     e.h2_error       # => 2 (the RST_STREAM code)
  #     e.h2_error_name  # => "INTERNAL_ERROR"
  #     e.processed      # => :no, :maybe or :yes
  #     e.processed?     # => false for :no, true for :yes, nil for :maybe
  #
  # <tt>H2Client::Error.new(message, code: 4)</tt> builds an instance of the code's class
  # (TimeoutError here; UnknownError for a code this binding has no class for), and
  # <tt>raise H2Client::Error, "message"</tt> raises an UnknownError.
  module Error
    # The +H2_E_*+ code (Integer); the class's CODE unless the library sent an unknown one.
    attr_reader :code
    # HTTP/2 error code (RFC 9113 §7) from RST_STREAM or GOAWAY, or of the violation
    # detected; 0 if none applies.
    attr_reader :h2_error
    # Whether the server processed the request: :no (certainly not: safe to retry),
    # :maybe, or :yes (a response head arrived).
    attr_reader :processed
    # Who detected the failure: :local (h2client: a check, a timeout, the caller), :remote
    # (the server: RST_STREAM, GOAWAY) or :transport (TCP or TLS).
    attr_reader :origin
    # GOAWAY's last stream id when a GOAWAY caused the failure, else 0.
    attr_reader :goaway_last_stream_id
    # How many times the request was retried before it failed.
    attr_reader :retries

    # The fields are those of the same names; +code+ defaults to the class's CODE, +message+
    # to the code's h2_strerror text.
    def initialize(message = nil, code: nil, h2_error: 0, processed: :maybe, origin: :local,
                   goaway_last_stream_id: 0, retries: 0)
      @code = code || self.class::CODE
      @h2_error = h2_error
      @processed = processed
      @origin = origin
      @goaway_last_stream_id = goaway_last_stream_id
      @retries = retries
      message = Lib.h2_strerror(@code) if message.nil? || message.empty?
      super(message)
    end

    # The code's name as in h2client.h, e.g. "H2_E_TIMEOUT".
    def code_name
      Lib.h2_error_name(@code)
    end

    # true if the server processed the request, false if it certainly did not (safe to
    # retry), nil if it may have (+processed+ is then :maybe).
    def processed?
      case @processed
      when :yes then true
      when :no then false
      end
    end

    # Name of the HTTP/2 error code +h2_error+ as in RFC 9113 ("NO_ERROR" for 0, "CANCEL",
    # ...), "0x..." for codes it does not name.
    def h2_error_name
      H2_ERROR_NAMES.fetch(@h2_error) { format("0x%x", @h2_error) }
    end

    # An instance of the class for +code+ (UnknownError if none, or no code, is given),
    # as if the module were the base class it stands for.
    def self.new(message = nil, code: nil, **fields)
      CODES.fetch(code, UnknownError).new(message, code: code, **fields)
    end

    # For <tt>raise H2Client::Error, "message"</tt>: an UnknownError.
    def self.exception(message = nil)
      UnknownError.new(message)
    end

    # Builds the error for +info+ (an Lib::ErrorInfo), +full_message+ replacing its
    # (truncated) message if given.
    def self.from_info(info, full_message = nil)
      code = info[:code]
      message = full_message || info[:message].to_s
      message = message.dup.force_encoding(Encoding::UTF_8)
      message.force_encoding(Encoding::BINARY) unless message.valid_encoding?
      CODES.fetch(code, UnknownError).new(
        message,
        code: code,
        h2_error: info[:h2_error],
        processed: PROCESSED.fetch(info[:processed], :maybe),
        origin: ORIGINS.fetch(info[:origin], :local),
        goaway_last_stream_id: info[:goaway_last_stream_id],
        retries: info[:retries]
      )
    end

    # The calling thread's last error, which must be the one recorded by the function that
    # just failed (returning +rc+, or NULL if +rc+ is nil). The library keeps it per native
    # thread, and Ruby runs an FFI call (blocking: true or not) on the calling Ruby
    # thread's own native thread, so reading it right after the failed call, on the same
    # thread, gives that call's error.
    def self.last(rc = nil)
      info = Lib::ErrorInfo.new
      code = Lib.h2_last_error(info)
      if code == Lib::H2_OK || (rc && code != rc)
        # Not expected: never report an unrelated record.
        rc ||= InternalError::CODE
        return CODES.fetch(rc, UnknownError).new(
          "#{Lib.h2_strerror(rc)} (no error details recorded)", code: rc
        )
      end
      message = nil
      if info[:message].to_s.bytesize >= 255 # truncated: fetch the whole text
        len = Lib.h2_last_error_message(nil, 0)
        buf = FFI::MemoryPointer.new(:char, len + 1)
        Lib.h2_last_error_message(buf, len + 1)
        message = buf.read_string(len)
      end
      from_info(info, message)
    end

    # The error of call +call+ (h2_call_error), which is per call, not per thread; falls
    # back to the thread's last error (argument checks record only that).
    def self.of_call(call, rc)
      info = Lib::ErrorInfo.new
      code = Lib.h2_call_error(call, info)
      return last(rc) if code == Lib::H2_OK

      from_info(info)
    end
  end

  # H2_E_INVALID_ARGUMENT: an invalid header name or value, method or path, an
  # out-of-range option.
  class InvalidArgumentError < StandardError; include Error; CODE = 1; end
  # H2_E_INVALID_URL: the base URL could not be parsed or uses another scheme.
  class InvalidURLError < StandardError; include Error; CODE = 2; end
  # H2_E_CONNECT: no connection could be established (refused, unreachable, name not
  # found, nobody listening on the unix_socket:). A SocketError.
  class ConnectError < SocketError; include Error; CODE = 3; end
  # H2_E_TIMEOUT: a timeout expired; the message says which. A Timeout::Error.
  class TimeoutError < Timeout::Error; include Error; CODE = 4; end
  # H2_E_PROTOCOL: an HTTP/2 protocol violation (see h2_error).
  class ProtocolError < StandardError; include Error; CODE = 5; end
  # H2_E_STREAM_RESET: the server reset the stream with RST_STREAM (code in h2_error).
  class StreamResetError < StandardError; include Error; CODE = 6; end
  # H2_E_GOAWAY: the server closed the connection with GOAWAY before completing the request.
  class GoAwayError < StandardError; include Error; CODE = 7; end
  # H2_E_CONNECTION: the transport failed (reset, closed by the peer, write error). An
  # IOError.
  class ConnectionError < IOError; include Error; CODE = 8; end
  # H2_E_CLOSED: the client was closed.
  class ClosedError < StandardError; include Error; CODE = 9; end
  # H2_E_CANCELED: the request was cancelled.
  class CanceledError < StandardError; include Error; CODE = 10; end
  # H2_E_HEADERS_TOO_LARGE: a header list exceeded a limit.
  class HeadersTooLargeError < StandardError; include Error; CODE = 11; end
  # H2_E_BODY_TOO_LARGE: the response body exceeded max_response_body.
  class BodyTooLargeError < StandardError; include Error; CODE = 12; end
  # H2_E_REFUSED: the server refused the request (REFUSED_STREAM) every time it was retried.
  class RefusedError < StandardError; include Error; CODE = 13; end
  # H2_E_WRONG_THREAD: a blocking function was called from a library thread.
  class WrongThreadError < StandardError; include Error; CODE = 14; end
  # H2_E_INTERNAL: a bug in h2client (a panic was caught).
  class InternalError < StandardError; include Error; CODE = 15; end
  # H2_E_TLS: TLS failed: handshake, certificate, ALPN, or an unusable PEM file.
  class TLSError < StandardError; include Error; CODE = 16; end
  # H2_E_FORKED: a client created before fork() was used in the child process.
  class ForkedError < StandardError; include Error; CODE = 17; end
  # H2_E_TOO_MANY_REDIRECTS: following redirects, one more than the maximum was met (the
  # message names the chain of URLs).
  class TooManyRedirectsError < StandardError; include Error; CODE = 18; end
  # H2_E_PROXY: the proxy refused or failed the tunnel (a non-2xx answer to CONNECT, 407:
  # proxy authentication required, a SOCKS5 failure), or the environment's proxy is unusable.
  class ProxyError < StandardError; include Error; CODE = 19; end
  # H2_E_DECODE: a response body the client was decoding (accept_encoding:) is corrupt or
  # truncated for its content-encoding (the message names the coding).
  class DecodeError < StandardError; include Error; CODE = 20; end
  # H2_E_RESOLVE: a host name (the origin's, or the proxy's) could not be resolved. A
  # ConnectError too, so rescuing that still catches it (the library said H2_E_CONNECT before).
  class ResolveError < ConnectError; CODE = 21; end

  # An +H2_E_*+ code this binding has no class for (a newer library), or none given.
  class UnknownError < StandardError; include Error; CODE = 0; end

  module Error
    # H2_E_* code => class.
    CODES = [InvalidArgumentError, InvalidURLError, ConnectError, TimeoutError, ProtocolError,
             StreamResetError, GoAwayError, ConnectionError, ClosedError, CanceledError,
             HeadersTooLargeError, BodyTooLargeError, RefusedError, WrongThreadError,
             InternalError, TLSError, ForkedError, TooManyRedirectsError,
             ProxyError, DecodeError, ResolveError].to_h { |c| [c::CODE, c] }.freeze

    PROCESSED = { Lib::H2_PROCESSED_NO => :no, Lib::H2_PROCESSED_MAYBE => :maybe,
                  Lib::H2_PROCESSED_YES => :yes }.freeze
    ORIGINS = { Lib::H2_ORIGIN_LOCAL => :local, Lib::H2_ORIGIN_REMOTE => :remote,
                Lib::H2_ORIGIN_TRANSPORT => :transport }.freeze

    # RFC 9113 §7.
    H2_ERROR_NAMES = %w[NO_ERROR PROTOCOL_ERROR INTERNAL_ERROR FLOW_CONTROL_ERROR
                        SETTINGS_TIMEOUT STREAM_CLOSED FRAME_SIZE_ERROR REFUSED_STREAM CANCEL
                        COMPRESSION_ERROR CONNECT_ERROR ENHANCE_YOUR_CALM
                        INADEQUATE_SECURITY HTTP_1_1_REQUIRED]
                     .each_with_index.to_h { |name, i| [i, name] }.freeze
  end
end
