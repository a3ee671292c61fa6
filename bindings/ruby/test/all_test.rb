# frozen_string_literal: true

# Runs every test file: ruby -Ilib -Itest test/all_test.rb
Dir[File.join(__dir__, "*_test.rb")].sort.each do |file|
  require file unless File.basename(file) == "all_test.rb"
end
