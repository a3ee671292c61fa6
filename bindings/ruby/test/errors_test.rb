# frozen_string_literal: true

require "test_helper"

class ErrorsTest < Minitest::Test
  include H2TestHelpers

  def test_stream_reset
    err = assert_raises(H2Client::StreamResetError) { client.get("/reset/2") }
    assert_kind_of H2Client::Error, err
    assert_equal 6, err.code
    assert_equal "H2_E_STREAM_RESET", err.code_name
    assert_equal 2, err.h2_error
    assert_equal "INTERNAL_ERROR", err.h2_error_name
    assert_equal :remote, err.origin
    assert_includes %i[maybe yes], err.processed
    assert_match(/reset/i, err.message)
    assert_equal 0, err.goaway_last_stream_id
  end

  def test_refused_stream_is_retried_then_refused
    err = assert_raises(H2Client::RefusedError) { client(max_retries: 2).get("/reset/7") }
    assert_equal 7, err.h2_error
    assert_equal 2, err.retries
    assert_equal :no, err.processed
    assert_equal false, err.processed?
  end

  def test_connect_refused
    c = H2Client::Client.new("http://127.0.0.1:#{free_port}")
    err = assert_raises(H2Client::ConnectError) { c.get("/") }
    assert_equal 3, err.code
    assert_equal "H2_E_CONNECT", err.code_name
    assert_equal false, err.processed?
    assert_equal :no, err.processed
    assert_match(/refused/, err.message)
  ensure
    c&.close
  end

  def test_connect_refused_in_block_form
    c = H2Client::Client.new("http://127.0.0.1:#{free_port}")
    err = assert_raises(H2Client::ConnectError) { c.get("/") { flunk } }
    assert_equal :no, err.processed
  ensure
    c&.close
  end

  def test_client_request_timeout
    c = client(request_timeout_ms: 200)
    t0 = monotonic
    err = assert_raises(H2Client::TimeoutError) { c.get("/delay/3000") }
    elapsed = monotonic - t0
    assert_operator elapsed, :<, 2.0
    assert_operator elapsed, :>=, 0.15
    assert_equal 4, err.code
    assert_match(/timed out/, err.message)
    # The client still works.
    assert_equal 200, c.get("/").status
  end

  def test_per_request_timeout
    c = client
    assert_raises(H2Client::TimeoutError) { c.get("/delay/3000", timeout_ms: 150) }
    assert_raises(H2Client::TimeoutError) { c.get("/delay/3000", headers_timeout_ms: 150) }
    assert_raises(H2Client::TimeoutError) { c.get("/delay/3000", timeout_ms: 150) { flunk } }
    assert_equal 200, c.get("/delay/10", timeout_ms: 5000).status
  end

  def test_body_idle_timeout
    c = client(body_idle_timeout_ms: 200)
    got = 0
    err = assert_raises(H2Client::TimeoutError) do
      c.get("/slow-bytes/100/10/2000") { |chunk| got += chunk.bytesize }
    end
    assert_equal 10, got
    assert_match(/DATA/, err.message)
  end

  def test_body_too_large
    err = assert_raises(H2Client::BodyTooLargeError) do
      client(max_response_body: 1000).get("/bytes/100000")
    end
    assert_equal 12, err.code
  end

  def test_invalid_url
    err = assert_raises(H2Client::InvalidURLError) { H2Client::Client.new("ftp://example.com") }
    assert_equal "H2_E_INVALID_URL", err.code_name
    assert_raises(H2Client::InvalidURLError) { H2Client::Client.new("not a url") }
  end

  def test_invalid_request_arguments
    c = client
    assert_raises(H2Client::InvalidArgumentError) { c.get("no-slash") }
    assert_raises(H2Client::InvalidArgumentError) { c.request("BAD METHOD", "/") }
    assert_raises(H2Client::InvalidArgumentError) { c.get("/", headers: { "connection" => "x" }) }
    assert_raises(H2Client::InvalidArgumentError) { c.get("/", headers: { "bad name" => "x" }) }
    err = assert_raises(H2Client::InvalidArgumentError) do
      c.get("/", headers: { "x-a" => "line\r\nbreak" })
    end
    assert_equal 1, err.code
    assert_equal :local, err.origin
    assert_equal :no, err.processed
    refute_empty err.message
    # NUL bytes cannot cross into C strings at all, nor can a target that is not valid in
    # its encoding: the same errors with and without request options (one call into the
    # library, or a request built field by field).
    [{}, { headers: { "x-a" => "1" } }].each do |opts|
      assert_raises(ArgumentError) { c.get("/\0", **opts) }
      assert_raises(ArgumentError) { c.request("GE\0T", "/", **opts) }
      assert_raises(ArgumentError) { c.get("/caf\xE9".dup.force_encoding(Encoding::UTF_8), **opts) }
      assert_raises(ArgumentError) { c.get("\xFFabc".dup.force_encoding(Encoding::UTF_8), **opts) }
      assert_raises(H2Client::InvalidArgumentError) { c.get("no-slash", **opts) }
      assert_raises(H2Client::InvalidURLError) { c.get("ftp://example.com/", **opts) }
    end
    # A target longer than the scratch buffer's first size (it grows: a write past its end
    # would raise), then a short one in the same buffer.
    long = "/echo?#{'a' * 5000}"
    assert_equal 200, c.get(long).status
    assert_equal 200, c.get(+"/").status
    # The client is fine afterwards.
    assert_equal 200, c.get("/").status
  end

  def test_invalid_options
    assert_raises(ArgumentError) { H2Client::Client.new(url, no_such_option: 1) }
    assert_raises(TypeError) { H2Client::Client.new(url, request_timeout_ms: "soon") }
    assert_raises(H2Client::InvalidArgumentError) { H2Client::Client.new(url, max_connections: 0) }
    assert_raises(H2Client::InvalidArgumentError) do
      H2Client::Client.new(url, request_timeout_ms: -1)
    end
    assert_raises(H2Client::InvalidArgumentError) do
      H2Client::Client.new(url, request_timeout_ms: 1 << 32)
    end
    assert_raises(H2Client::InvalidArgumentError) do
      H2Client::Client.new(url, initial_window_size: 0)
    end
    assert_raises(ArgumentError) { H2Client::Client.new(url, tls_versions: [:ssl3]) }
    assert_raises(ArgumentError) { H2Client::Client.new(url, client_cert: "/x.pem") }
  end

  def test_unreadable_ca_file
    err = assert_raises(H2Client::TLSError) do
      H2Client::Client.new("https://localhost:1", ca_file: "/nonexistent/ca.pem")
    end
    assert_includes err.message, "/nonexistent/ca.pem"
    assert_equal 16, err.code
  end

  def test_every_code_has_a_class
    (1..21).each do |code|
      klass = H2Client::Error::CODES.fetch(code)
      assert_operator klass, :<, H2Client::Error
      assert_equal code, klass::CODE
      err = klass.new("x")
      assert_equal code, err.code
      assert_equal H2Client::Lib.h2_error_name(code), err.code_name
    end
    expected = %w[InvalidArgumentError InvalidURLError ConnectError TimeoutError ProtocolError
                  StreamResetError GoAwayError ConnectionError ClosedError CanceledError
                  HeadersTooLargeError BodyTooLargeError RefusedError WrongThreadError
                  InternalError TLSError ForkedError TooManyRedirectsError ProxyError
                  DecodeError ResolveError]
    assert_equal expected, H2Client::Error::CODES.values.map { |k| k.name.split("::").last }
  end

  def test_error_without_message_uses_strerror
    err = H2Client::TimeoutError.new
    assert_equal H2Client::Lib.h2_strerror(4), err.message
    assert_nil H2Client::Error.new("x", code: 4, processed: :maybe).processed?
    assert_equal true, H2Client::Error.new("x", code: 4, processed: :yes).processed?
  end

  # H2Client::Error is a module: every class includes it, and descends from the Ruby
  # exception it is a case of.
  def test_error_classes_fit_ruby_habits
    H2Client::Error::CODES.each_value do |klass|
      assert_operator klass, :<, H2Client::Error
      assert_operator klass, :<, StandardError
    end
    assert_operator H2Client::TimeoutError, :<, Timeout::Error
    assert_operator H2Client::ConnectError, :<, SocketError
    assert_operator H2Client::ConnectionError, :<, IOError
    refute_operator H2Client::ConnectError, :<, SystemCallError
    refute_operator H2Client::StreamResetError, :<, IOError
    # Built through the module as through a base class.
    err = H2Client::Error.new("late", code: 4, processed: :no)
    assert_instance_of H2Client::TimeoutError, err
    assert_equal [4, "late", false], [err.code, err.message, err.processed?]
    unknown = H2Client::Error.new("from a newer library", code: 99)
    assert_instance_of H2Client::UnknownError, unknown
    assert_equal 99, unknown.code
    assert_equal "H2_E_UNKNOWN", unknown.code_name
    raised = assert_raises(H2Client::Error) { raise H2Client::Error, "plain" }
    assert_instance_of H2Client::UnknownError, raised
    assert_equal "plain", raised.message
  end

  def test_real_failures_rescued_as_ruby_exceptions
    c = client
    t0 = monotonic
    err = begin
      c.get("/delay/3000", timeout_ms: 150)
      nil
    rescue Timeout::Error => e
      e
    end
    assert_instance_of H2Client::TimeoutError, err
    assert_operator monotonic - t0, :<, 2.0
    refused = H2Client::Client.new("http://127.0.0.1:#{free_port}")
    err = begin
      refused.get("/")
      nil
    rescue SocketError => e
      e
    end
    assert_instance_of H2Client::ConnectError, err
  ensure
    refused&.close
  end

  def test_connection_dropped_mid_response_is_an_io_error
    require "raw_h2_server"
    server = RawH2Server.new do |conn, id|
      conn.headers(id, [[":status", "200"]])
      conn.data(id, "part")
      conn.drop
    end
    c = H2Client::Client.new(server.url, request_timeout_ms: 10_000)
    err = assert_raises(IOError) { c.get("/") }
    assert_instance_of H2Client::ConnectionError, err
    assert_kind_of H2Client::Error, err
    assert_equal :transport, err.origin
    # EOF, or a reset if the client's last frames were still unread when the socket closed.
    assert_match(/closed|reset/, err.message)
  ensure
    c&.close
    server&.close
  end

  # h2_last_error is per native thread. Many Ruby threads fail at once with different
  # RST_STREAM codes, interleaved with successes: each must see its own error, which holds
  # only if the error is read on the thread (and right after the call) that failed.
  def test_thread_local_errors_under_concurrency
    c = client
    codes = [1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13]
    mismatches = Queue.new
    threads = codes.map do |code|
      Thread.new do
        40.times do |i|
          if i.odd?
            res = c.get("/bytes/#{code}")
            mismatches << [code, :body] unless res.body == pattern(code)
            next
          end
          begin
            c.get("/reset/#{code}")
            mismatches << [code, :no_error]
          rescue H2Client::StreamResetError => e
            mismatches << [code, e.h2_error] unless e.h2_error == code
          rescue H2Client::Error => e
            mismatches << [code, e.class, e.message]
          end
        end
      end
    end
    threads.each(&:join)
    list = []
    list << mismatches.pop until mismatches.empty?
    assert_empty list
  end
end
