# frozen_string_literal: true

require "socket"
require "tmpdir"
require "fileutils"

# A tinyproxy process on a free loopback port that requires Basic credentials. Its log
# (LogLevel Info, on its standard output in the foreground) is read by a thread, so that
# tests can wait for a line. tinyproxy must be installed (scripts/check-deps.sh installs
# it): its absence fails the tests.
class Tinyproxy
  USER = "ruby"
  PASSWORD = "s3cret"

  attr_reader :port

  # One tinyproxy for the run (started on first use), stopped after it.
  def self.shared
    @shared ||= begin
      proxy = start
      owner = Process.pid
      Minitest.after_run { proxy.stop if Process.pid == owner }
      proxy
    end
  end

  # The path of the tinyproxy binary (PATH, then the sbin directories).
  def self.binary
    dirs = ENV.fetch("PATH", "").split(File::PATH_SEPARATOR) + %w[/usr/sbin /sbin /usr/local/sbin]
    dirs.each do |dir|
      path = File.join(dir, "tinyproxy")
      return path if !dir.empty? && File.file?(path) && File.executable?(path)
    end
    raise "tinyproxy is not installed: these tests need it (run scripts/check-deps.sh, or: " \
          "apt-get install --no-install-recommends tinyproxy-bin)"
  end

  # A running tinyproxy. A port found free may be taken by someone else before tinyproxy
  # binds it: tinyproxy then exits, and another port is tried.
  def self.start
    5.times do
      proxy = new
      return proxy if proxy.wait_for(/Accepting connections/)

      proxy.stop
    end
    raise "tinyproxy did not start (5 tries)"
  end

  def initialize
    @dir = Dir.mktmpdir("h2client-ruby-tinyproxy")
    server = TCPServer.new("127.0.0.1", 0)
    @port = server.addr[1]
    server.close
    conf = File.join(@dir, "tinyproxy.conf")
    File.write(conf, <<~CONF)
      Port #{@port}
      Listen 127.0.0.1
      Allow 127.0.0.1
      Timeout 30
      MaxClients 100
      LogLevel Info
      BasicAuth #{USER} #{PASSWORD}
    CONF
    r, w = IO.pipe
    @pid = Process.spawn(self.class.binary, "-d", "-c", conf, in: File::NULL, out: w,
                                                                err: File::NULL)
    w.close
    @log = +""
    @eof = false
    @lock = Mutex.new
    @cond = ConditionVariable.new
    @reader = Thread.new { drain(r) }
  end

  # "http://[user:password@]127.0.0.1:PORT".
  def url(credentials: true)
    "http://#{credentials ? "#{USER}:#{PASSWORD}@" : ''}127.0.0.1:#{@port}"
  end

  # Waits (up to +timeout+ s) for a log line matching +pattern+: true, or false if tinyproxy
  # exited or the time ran out first.
  def wait_for(pattern, timeout = 10)
    deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + timeout
    @lock.synchronize do
      loop do
        return true if @log.match?(pattern)

        left = deadline - Process.clock_gettime(Process::CLOCK_MONOTONIC)
        return false if @eof || left <= 0

        @cond.wait(@lock, left)
      end
    end
  end

  # The log so far.
  def log
    @lock.synchronize { @log.dup }
  end

  # Stops tinyproxy (by its pid) and removes its directory.
  def stop
    begin
      Process.kill("TERM", @pid)
    rescue Errno::ESRCH
      nil
    end
    Process.wait(@pid)
    @reader.join
    FileUtils.rm_rf(@dir)
  end

  private

  def drain(io)
    while (line = io.gets)
      @lock.synchronize do
        @log << line
        @cond.broadcast
      end
    end
  ensure
    io.close
    @lock.synchronize do
      @eof = true
      @cond.broadcast
    end
  end
end
