# Landesamt fuer Digitales (LfD) -- AWS account "lfd-fachverfahren-prod" (493120716285)
#
# Example estate for hoheit. plan.json next to this file is the plan of this
# configuration as `terraform show -json` prints it (format 1.2, Terraform 1.11).
# Mistakes are planted on purpose and marked "MISTAKE:"; everything else is
# meant to be correct. See ../README.md.
terraform {
  required_version = ">= 1.9"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
  }
}

provider "aws" {
  region              = "eu-central-1"
  allowed_account_ids = ["493120716285"]

  default_tags {
    tags = {
      Behoerde     = "Landesamt fuer Digitales"
      Kostenstelle = "LfD-4711"
      ManagedBy    = "terraform"
      Umgebung     = "produktion"
    }
  }
}

provider "aws" {
  alias = "us_east_1"

  region              = "us-east-1"
  allowed_account_ids = ["493120716285"]

  default_tags {
    tags = {
      Behoerde     = "Landesamt fuer Digitales"
      Kostenstelle = "LfD-4711"
      ManagedBy    = "terraform"
      Umgebung     = "produktion"
    }
  }
}

variable "legacy_db_password" {
  description = "Password of the legacy Buergerportal database (comes from the CI secret store)."
  type        = string
  sensitive   = true
}

# Account-wide audit trail (CloudTrail) with its own hardened log bucket. Correct on purpose.
module "audit_trail" {
  source = "./modules/audit-trail"

  name_prefix = "lfd"
  kms_key_arn = aws_kms_key.audit.arn
}

# Key for VS-NfD case files, held outside AWS: it lives in the external key store
# cks-0e5b7a1c9d2f43a68 (XKS proxy in front of the LfD's own HSM in its data
# centre), so AWS cannot decrypt without the LfD. External keys are rotated in
# the HSM, not by AWS (enable_key_rotation is not available for them). Correct.
resource "aws_kms_key" "records" {
  description             = "LfD Fachverfahren: Akten und Bescheide (S3, EBS, RDS)"
  custom_key_store_id     = "cks-0e5b7a1c9d2f43a68"
  xks_key_id              = "lfd-hsm-akten-2026"
  deletion_window_in_days = 30
  tags = {
    Name           = "lfd-records"
    classification = "vs-nfd"
  }
}

resource "aws_kms_alias" "records" {
  name          = "alias/lfd-records"
  target_key_id = aws_kms_key.records.key_id
}

# Key for the audit trail. Correct.
resource "aws_kms_key" "audit" {
  description             = "LfD: CloudTrail log files"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  tags = {
    Name           = "lfd-audit"
    classification = "internal"
  }
}

# MISTAKE: no automatic key rotation (enable_key_rotation defaults to false),
# and the shortest possible deletion window.
resource "aws_kms_key" "legacy_backup" {
  description             = "Backups Altverfahren (legacy)"
  deletion_window_in_days = 7
  tags = {
    Name           = "lfd-legacy-backup"
    classification = "internal"
  }
}

# Case files (Akten). Correct: every setting lives in a split resource below.
# Its encryption uses the customer key aws_kms_key.records, whose ARN is only
# known after apply -- the plan shows kms_master_key_id as unknown, and a scanner
# must resolve the bucket through the configuration's references.
resource "aws_s3_bucket" "records" {
  bucket = "lfd-fachverfahren-akten-prod"
  tags = {
    Name           = "lfd-fachverfahren-akten-prod"
    classification = "vs-nfd"
    personal_data  = "true"
    team           = "fachverfahren"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "records" {
  bucket = aws_s3_bucket.records.id

  rule {
    bucket_key_enabled = true

    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.records.arn
    }
  }
}

resource "aws_s3_bucket_public_access_block" "records" {
  bucket                  = aws_s3_bucket.records.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "records" {
  bucket = aws_s3_bucket.records.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_policy" "records" {
  bucket = aws_s3_bucket.records.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource = [
          "arn:aws:s3:::${aws_s3_bucket.records.bucket}",
          "arn:aws:s3:::${aws_s3_bucket.records.bucket}/*",
        ]
        Condition = {
          Bool = {
            "aws:SecureTransport" = "false"
          }
        }
      },
      {
        Sid       = "DenyOutdatedTLS"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource = [
          "arn:aws:s3:::${aws_s3_bucket.records.bucket}",
          "arn:aws:s3:::${aws_s3_bucket.records.bucket}/*",
        ]
        Condition = {
          NumericLessThan = {
            "s3:TlsVersion" = "1.2"
          }
        }
      },
      {
        Sid       = "DenyOutsideVpcEndpoint"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource = [
          "arn:aws:s3:::${aws_s3_bucket.records.bucket}",
          "arn:aws:s3:::${aws_s3_bucket.records.bucket}/*",
        ]
        Condition = {
          StringNotEquals = {
            "aws:SourceVpce" = "vpce-0a7c4e19d2b3f5068"
          }
        }
      },
    ]
  })
}

resource "aws_s3_bucket_logging" "records" {
  bucket        = aws_s3_bucket.records.id
  target_bucket = aws_s3_bucket.access_logs.id
  target_prefix = "s3/lfd-fachverfahren-akten-prod/"
}

# Target of S3 server access logs. Encrypted (SSE-S3, the only option for log
# delivery), versioned, not public. It does not log access to itself (that would
# loop) -- examples/exceptions.yaml carries a reviewed exception for that.
resource "aws_s3_bucket" "access_logs" {
  bucket = "lfd-s3-zugriffsprotokolle"
  tags = {
    Name           = "lfd-s3-zugriffsprotokolle"
    classification = "internal"
    personal_data  = "false"
    team           = "betrieb"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "access_logs" {
  bucket = aws_s3_bucket.access_logs.bucket

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_public_access_block" "access_logs" {
  bucket                  = aws_s3_bucket.access_logs.bucket
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_policy" "access_logs" {
  bucket = aws_s3_bucket.access_logs.bucket
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource = [
          "arn:aws:s3:::${aws_s3_bucket.access_logs.bucket}",
          "arn:aws:s3:::${aws_s3_bucket.access_logs.bucket}/*",
        ]
        Condition = {
          Bool = {
            "aws:SecureTransport" = "false"
          }
        }
      },
      {
        Sid       = "DenyOutdatedTLS"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource = [
          "arn:aws:s3:::${aws_s3_bucket.access_logs.bucket}",
          "arn:aws:s3:::${aws_s3_bucket.access_logs.bucket}/*",
        ]
        Condition = {
          NumericLessThan = {
            "s3:TlsVersion" = "1.2"
          }
        }
      },
    ]
  })
}

resource "aws_s3_bucket_versioning" "access_logs" {
  bucket = aws_s3_bucket.access_logs.bucket

  versioning_configuration {
    status = "Enabled"
  }
}

# MISTAKE: static assets of the Buergerportal served straight from S3: the public
# access block is switched off, the ACL is public-read and the bucket policy
# grants s3:GetObject to everyone ("*"). No versioning, no access logging.
# (A reviewed exception in examples/exceptions.yaml accepts the public read.)
resource "aws_s3_bucket" "public_site" {
  bucket        = "lfd-buergerportal-web"
  force_destroy = true
  tags = {
    Name           = "lfd-buergerportal-web"
    classification = "public"
    personal_data  = "false"
    team           = "web"
  }
}

resource "aws_s3_bucket_public_access_block" "public_site" {
  bucket                  = aws_s3_bucket.public_site.id
  block_public_acls       = false
  block_public_policy     = false
  ignore_public_acls      = false
  restrict_public_buckets = false
}

resource "aws_s3_bucket_ownership_controls" "public_site" {
  bucket = aws_s3_bucket.public_site.id

  rule {
    object_ownership = "BucketOwnerPreferred"
  }
}

resource "aws_s3_bucket_acl" "public_site" {
  bucket = aws_s3_bucket.public_site.id
  acl    = "public-read"
}

resource "aws_s3_bucket_policy" "public_site" {
  bucket = aws_s3_bucket.public_site.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "PublicReadGetObject"
        Effect    = "Allow"
        Principal = "*"
        Action    = "s3:GetObject"
        Resource  = "arn:aws:s3:::lfd-buergerportal-web/*"
      },
    ]
  })
}

# MISTAKE (GDPR residency): personal data exported for a statistics vendor,
# stored in us-east-1 -- outside the EU. Otherwise configured well.
resource "aws_s3_bucket" "statistik_export" {
  provider = aws.us_east_1

  bucket = "lfd-statistik-export-us"
  tags = {
    Name           = "lfd-statistik-export-us"
    classification = "confidential"
    personal_data  = "true"
    team           = "statistik"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "statistik_export" {
  provider = aws.us_east_1

  bucket = aws_s3_bucket.statistik_export.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_public_access_block" "statistik_export" {
  provider = aws.us_east_1

  bucket                  = aws_s3_bucket.statistik_export.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "statistik_export" {
  provider = aws.us_east_1

  bucket = aws_s3_bucket.statistik_export.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_policy" "statistik_export" {
  provider = aws.us_east_1

  bucket = aws_s3_bucket.statistik_export.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource = [
          "arn:aws:s3:::${aws_s3_bucket.statistik_export.bucket}",
          "arn:aws:s3:::${aws_s3_bucket.statistik_export.bucket}/*",
        ]
        Condition = {
          Bool = {
            "aws:SecureTransport" = "false"
          }
        }
      },
      {
        Sid       = "DenyOutdatedTLS"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource = [
          "arn:aws:s3:::${aws_s3_bucket.statistik_export.bucket}",
          "arn:aws:s3:::${aws_s3_bucket.statistik_export.bucket}/*",
        ]
        Condition = {
          NumericLessThan = {
            "s3:TlsVersion" = "1.2"
          }
        }
      },
    ]
  })
}

resource "aws_s3_bucket_logging" "statistik_export" {
  provider = aws.us_east_1

  bucket        = aws_s3_bucket.statistik_export.id
  target_bucket = "lfd-s3-zugriffsprotokolle-us"
  target_prefix = "s3/lfd-statistik-export-us/"
}

# Existing VPC of the Fachverfahren. Flow logs below. Correct.
resource "aws_vpc" "main" {
  cidr_block           = "10.20.0.0/16"
  enable_dns_hostnames = true
  tags = {
    Name = "lfd-fachverfahren"
  }
}

resource "aws_subnet" "app_a" {
  vpc_id            = aws_vpc.main.id
  cidr_block        = "10.20.1.0/24"
  availability_zone = "eu-central-1a"
  tags = {
    Name = "lfd-app-a"
  }
}

resource "aws_subnet" "db_a" {
  vpc_id            = aws_vpc.main.id
  cidr_block        = "10.20.11.0/24"
  availability_zone = "eu-central-1a"
  tags = {
    Name = "lfd-db-a"
  }
}

resource "aws_subnet" "db_b" {
  vpc_id            = aws_vpc.main.id
  cidr_block        = "10.20.12.0/24"
  availability_zone = "eu-central-1b"
  tags = {
    Name = "lfd-db-b"
  }
}

resource "aws_flow_log" "main" {
  vpc_id                   = aws_vpc.main.id
  traffic_type             = "ALL"
  log_destination_type     = "s3"
  log_destination          = aws_s3_bucket.access_logs.arn
  max_aggregation_interval = 60
  tags = {
    Name = "lfd-fachverfahren-flowlogs"
  }
}

# MISTAKE: VPC of the legacy applications has no flow log.
resource "aws_vpc" "legacy" {
  cidr_block           = "10.99.0.0/16"
  enable_dns_hostnames = true
  tags = {
    Name = "lfd-altverfahren"
    team = "altverfahren"
  }
}

resource "aws_subnet" "legacy_public" {
  vpc_id                  = aws_vpc.legacy.id
  cidr_block              = "10.99.0.0/24"
  availability_zone       = "eu-central-1a"
  map_public_ip_on_launch = true
  tags = {
    Name = "lfd-altverfahren-public"
  }
}

# MISTAKE: SSH (22/tcp) open to the whole internet.
resource "aws_security_group" "bastion_legacy" {
  name        = "lfd-altverfahren-bastion"
  description = "SSH jump host Altverfahren"
  vpc_id      = aws_vpc.legacy.id
  tags = {
    Name = "lfd-altverfahren-bastion"
  }

  ingress {
    description = "SSH von ueberall (temporaer)"
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }

  egress {
    description = "alles raus"
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

# Application servers: HTTPS from inside the VPC only. Correct.
resource "aws_security_group" "app" {
  name        = "lfd-fachverfahren-app"
  description = "Fachverfahren application servers"
  vpc_id      = aws_vpc.main.id
  tags = {
    Name = "lfd-fachverfahren-app"
  }

  ingress {
    description = "HTTPS aus dem VPC"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["10.20.0.0/16"]
  }

  egress {
    description = "HTTPS zu VPC-Endpunkten"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["10.20.0.0/16"]
  }
}

# Database group; its only rule is the split resource below. Correct.
resource "aws_security_group" "db" {
  name        = "lfd-fachverfahren-db"
  description = "PostgreSQL of the Fachverfahren"
  vpc_id      = aws_vpc.main.id
  tags = {
    Name = "lfd-fachverfahren-db"
  }
}

resource "aws_vpc_security_group_ingress_rule" "db_from_app" {
  security_group_id            = aws_security_group.db.id
  referenced_security_group_id = aws_security_group.app.id
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  description                  = "PostgreSQL nur von den App-Servern"
}

resource "aws_iam_role" "fachverfahren_app" {
  name = "lfd-fachverfahren-app"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect = "Allow"
        Action = "sts:AssumeRole"
        Principal = {
          Service = "ec2.amazonaws.com"
        }
      },
    ]
  })
}

resource "aws_iam_instance_profile" "fachverfahren_app" {
  name = "lfd-fachverfahren-app"
  role = aws_iam_role.fachverfahren_app.name
}

# Least privilege: read one bucket. Correct.
resource "aws_iam_policy" "records_read" {
  name        = "lfd-akten-lesen"
  description = "Read case files from the records bucket"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid    = "ReadRecords"
        Effect = "Allow"
        Action = ["s3:GetObject", "s3:ListBucket"]
        Resource = [
          "arn:aws:s3:::lfd-fachverfahren-akten-prod",
          "arn:aws:s3:::lfd-fachverfahren-akten-prod/*",
        ]
      },
    ]
  })
}

resource "aws_iam_role_policy_attachment" "fachverfahren_app_records" {
  role       = aws_iam_role.fachverfahren_app.name
  policy_arn = aws_iam_policy.records_read.arn
}

# MISTAKE: full administrative rights (Action "*" on Resource "*").
resource "aws_iam_policy" "ops_full_access" {
  name        = "lfd-betrieb-vollzugriff"
  description = "Betrieb: Notfallzugriff"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "Everything"
        Effect   = "Allow"
        Action   = "*"
        Resource = "*"
      },
    ]
  })
}

# Application server for VS-NfD data: AMD SEV-SNP confidential computing,
# IMDSv2 only, root volume encrypted with the external key, no public IP. Correct.
# (EC2 offers SEV-SNP on M6a/C6a/R6a in a few regions only: check that the
# region you copy this to has it.)
resource "aws_instance" "fachverfahren_app" {
  ami                         = "ami-0e8f1c2d3b4a59687"
  instance_type               = "m6a.xlarge"
  subnet_id                   = aws_subnet.app_a.id
  vpc_security_group_ids      = [aws_security_group.app.id]
  iam_instance_profile        = aws_iam_instance_profile.fachverfahren_app.name
  associate_public_ip_address = false
  monitoring                  = true
  tags = {
    Name           = "lfd-fachverfahren-app-1"
    classification = "vs-nfd"
    personal_data  = "true"
    team           = "fachverfahren"
  }

  cpu_options {
    amd_sev_snp = "enabled"
  }

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  root_block_device {
    encrypted   = true
    kms_key_id  = aws_kms_key.records.arn
    volume_type = "gp3"
    volume_size = 50
  }
}

# MISTAKE: document store tagged classification=confidential, but no
# confidential computing (m5 cannot do SEV-SNP; no cpu_options), IMDSv1 still
# allowed (http_tokens = "optional"), public IP in a public subnet.
resource "aws_instance" "dokumentenablage" {
  ami                         = "ami-0a1b2c3d4e5f60718"
  instance_type               = "m5.large"
  subnet_id                   = aws_subnet.legacy_public.id
  vpc_security_group_ids      = [aws_security_group.bastion_legacy.id]
  associate_public_ip_address = true
  key_name                    = "betrieb-2019"
  tags = {
    Name           = "lfd-dokumentenablage"
    classification = "confidential"
    team           = "altverfahren"
  }

  metadata_options {
    http_endpoint = "enabled"
    http_tokens   = "optional"
  }

  root_block_device {
    volume_type = "gp3"
    volume_size = 100
  }
}

resource "aws_db_subnet_group" "fachverfahren" {
  name       = "lfd-fachverfahren-db"
  subnet_ids = [aws_subnet.db_a.id, aws_subnet.db_b.id]
}

# TLS 1.2+ required for every connection; pgaudit on.
resource "aws_db_parameter_group" "fachverfahren" {
  name   = "lfd-fachverfahren-pg16"
  family = "postgres16"

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }

  parameter {
    name  = "ssl_min_protocol_version"
    value = "TLSv1.2"
  }

  parameter {
    name  = "pgaudit.log"
    value = "ddl,role"
  }
}

# Fachverfahren database: private, encrypted with the customer key, Multi-AZ,
# 14 days of backups, deletion protection, IAM auth, logs exported. Correct.
resource "aws_db_instance" "fachverfahren" {
  identifier                          = "lfd-fachverfahren"
  engine                              = "postgres"
  engine_version                      = "16.4"
  instance_class                      = "db.m6g.large"
  allocated_storage                   = 100
  storage_encrypted                   = true
  kms_key_id                          = aws_kms_key.records.arn
  username                            = "fachverfahren_admin"
  manage_master_user_password         = true
  db_subnet_group_name                = aws_db_subnet_group.fachverfahren.name
  parameter_group_name                = aws_db_parameter_group.fachverfahren.name
  vpc_security_group_ids              = [aws_security_group.db.id]
  publicly_accessible                 = false
  multi_az                            = true
  backup_retention_period             = 14
  deletion_protection                 = true
  iam_database_authentication_enabled = true
  enabled_cloudwatch_logs_exports     = ["postgresql"]
  copy_tags_to_snapshot               = true
  final_snapshot_identifier           = "lfd-fachverfahren-final"
  tags = {
    Name           = "lfd-fachverfahren"
    classification = "vs-nfd"
    personal_data  = "true"
    environment    = "production"
  }
}

# MISTAKE: database of the old Buergerportal: reachable from the internet,
# storage not encrypted, one day of backups, no deletion protection, no Multi-AZ,
# no TLS enforcement, no audit log export, password authentication only, and no
# classification tag.
resource "aws_db_instance" "buergerportal_legacy" {
  identifier              = "lfd-buergerportal-legacy"
  engine                  = "mysql"
  engine_version          = "8.0.39"
  instance_class          = "db.t3.medium"
  allocated_storage       = 20
  storage_encrypted       = false
  username                = "admin"
  password                = var.legacy_db_password
  publicly_accessible     = true
  backup_retention_period = 1
  skip_final_snapshot     = true
  tags = {
    Name          = "lfd-buergerportal-legacy"
    personal_data = "true"
    environment   = "production"
    team          = "web"
  }
}

# Public DNS zone. hoheit does not model DNS: it shows up as an unsupported type.
resource "aws_route53_zone" "buergerportal" {
  name    = "buergerportal.ld.example.de"
  comment = "Buergerportal"
}
