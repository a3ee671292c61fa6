# frozen_string_literal: true

require "test_helper"

# accept_encoding: transparent decompression of gzip, br and zstd bodies from the test server's
# /encoded endpoint, buffered and streamed; a corrupt body raises DecodeError.
class DecompressionTest < Minitest::Test
  include H2TestHelpers

  def test_bodies_arrive_decoded_and_marked
    plain = client.get("/encoded/identity/20000")
    refute plain.decoded?
    c = client(accept_encoding: true)
    %w[gzip br zstd gzip,br].each do |codings|
      res = c.get("/encoded/#{codings}/20000")
      assert_equal 200, res.status
      assert res.decoded?, codings
      assert_equal plain.body, res.body, codings
      assert_nil res.headers["content-encoding"], codings
      streamed = String.new(encoding: Encoding::BINARY)
      res = c.get("/encoded/#{codings}/20000") { |chunk, _| streamed << chunk }
      assert res.decoded?, codings
      assert_equal plain.body, streamed, codings
    end
    # Off (the default): the coded body as sent.
    raw = client.get("/encoded/gzip/20000")
    refute raw.decoded?
    assert_equal "gzip", raw.headers["content-encoding"]
    assert_equal "\x1f\x8b".b, raw.body[0, 2]
  end

  def test_a_corrupt_body_raises_decode_error
    c = client(accept_encoding: "gzip")
    err = assert_raises(H2Client::DecodeError) { c.get("/encoded/gzip/20000?corrupt") }
    assert_match(/gzip/, err.message)
    assert_kind_of H2Client::Error, err
  end
end
