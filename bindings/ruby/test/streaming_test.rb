# frozen_string_literal: true

require "stringio"
require "test_helper"

class StreamingTest < Minitest::Test
  include H2TestHelpers

  TEN_MB = 10 * 1024 * 1024

  def test_get_block_streams_10mb_byte_exact
    offset = 0
    chunks = 0
    largest = 0
    heads = []
    res = client.get("/bytes/#{TEN_MB}") do |chunk, head|
      heads << head.status if chunks.zero?
      assert_equal Encoding::BINARY, chunk.encoding
      # Compared piece by piece: the body is never held whole.
      assert_equal pattern(chunk.bytesize, offset), chunk, "bytes at #{offset}"
      offset += chunk.bytesize
      chunks += 1
      largest = chunk.bytesize if chunk.bytesize > largest
    end
    assert_equal TEN_MB, offset
    assert_operator chunks, :>=, TEN_MB / H2Client::Client::READ_CHUNK
    assert_operator largest, :<=, H2Client::Client::READ_CHUNK
    assert_equal [200], heads
    assert_equal 200, res.status
    assert_nil res.body
    assert_equal TEN_MB.to_s, res.headers["content-length"]
  end

  def test_block_form_gets_trailers
    body = +""
    res = client.get("/trailers") { |chunk| body << chunk }
    assert_equal "body with trailers\n", body
    assert_equal({ "x-trailer-one" => "1", "x-trailer-two" => "two" }, res.trailers)
  end

  def test_block_form_with_error_status_and_empty_body
    called = false
    res = client.get("/status/404") { called = true }
    assert_equal 404, res.status
    refute called
  end

  def test_post_with_block
    body = +""
    res = client.post("/echo", body: "streamed back", headers: { "x-a" => "b" }) do |chunk|
      body << chunk
    end
    assert_equal "streamed back", body
    assert_equal "b", res.headers["x-echo-h-x-a"]
  end

  def test_break_out_of_block_cancels_and_client_stays_usable
    c = client
    got = 0
    result = c.get("/bytes/#{100 * TEN_MB}") do |chunk|
      got += chunk.bytesize
      break :stopped if got > 1_000_000
    end
    assert_equal :stopped, result
    # The stream was reset; the connection is fine.
    assert_equal 200, c.get("/").status
    assert_equal 1, c.stats[:connections_opened]
  end

  def test_exception_in_block_propagates
    c = client
    err = assert_raises(RuntimeError) do
      c.get("/bytes/#{TEN_MB}") { raise "stop here" }
    end
    assert_equal "stop here", err.message
    assert_equal 200, c.get("/").status
  end

  def test_request_inside_block_on_same_client
    c = client
    outer = +""
    inner = []
    c.get("/bytes/300000") do |chunk|
      outer << chunk
      inner << c.get("/bytes/26").body
    end
    assert_equal pattern(300_000), outer
    assert(inner.all? { |b| b == pattern(26) })
  end

  def test_streamed_upload_from_io
    data = pattern(5 * 1024 * 1024 + 7)
    res = client.post("/echo", body: StringIO.new(data))
    assert_equal 200, res.status
    assert_equal data.bytesize, res.body.bytesize
    assert_equal data, res.body
  end

  def test_streamed_upload_from_file_larger_than_windows
    # Bigger than the stream window (4 MiB) plus what the server buffers: works only
    # because the body is written by another thread while the response is read.
    data = Random.new(42).bytes(12 * 1024 * 1024)
    Dir.mktmpdir do |dir|
      path = File.join(dir, "upload.bin")
      File.binwrite(path, data)
      received = +""
      File.open(path, "rb") do |f|
        res = client.put("/echo", body: f) { |chunk| received << chunk }
        assert_equal 200, res.status
      end
      assert_equal data.bytesize, received.bytesize
      assert_equal data, received
    end
  end

  def test_streamed_upload_from_enumerable
    parts = ["first,", "", "second,", "x" * 100_000]
    res = client.post("/echo", body: parts.each)
    assert_equal parts.join, res.body
    # Streamed bodies have no content-length.
    assert_nil res.headers["x-echo-h-content-length"]
  end

  def test_upload_source_error_is_raised
    c = client
    body = Enumerator.new do |y|
      y << "some data"
      raise IOError, "source broke"
    end
    err = assert_raises(IOError) { c.post("/echo", body: body) }
    assert_equal "source broke", err.message
    assert_equal 200, c.get("/").status
  end

  def test_stream_error_after_headers
    # /reset/N resets before any response head.
    err = assert_raises(H2Client::StreamResetError) { client.get("/reset/8") { flunk } }
    assert_equal 8, err.h2_error
    assert_equal "CANCEL", err.h2_error_name
  end

  def test_body_type_checked
    assert_raises(TypeError) { client.post("/echo", body: 42) }
  end
end
